"""`secret_delivery` in a rollout definition: files by default, env only when asked; anything
else is one `file:line: key` error (exit 2 from `bakery lint`), and `bakery schema` shows it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bakery.cli import main
from bakery.errors import DefinitionError
from bakery.project import Project
from bakery.rollout.service import fleet_spec

STAGING = "rollouts/staging/web.yaml"


def _load(root, extra=""):
    path = root / STAGING
    path.write_text(path.read_text() + extra)
    return Project(root).load_rollout("staging", "web")


def test_files_by_default_and_env_when_the_definition_asks(project_copy):
    assert _load(project_copy).secret_delivery == "file"
    assert _load(project_copy, "secret_delivery: env\n").secret_delivery == "env"


def test_the_fleet_spec_carries_the_choice(project_copy):
    defn = _load(project_copy, "secret_delivery: env\n")

    class Rec:
        image_id, name, version, fingerprint = "sha256:x", "web", "1.0.0", "f" * 64

    spec = fleet_spec(defn, Rec(), "blue", "rid", {"API_TOKEN": "s3cr3t"})
    assert spec.secret_delivery == "env" and "s3cr3t" not in repr(spec)


def test_an_unknown_delivery_names_file_line_and_key(project_copy):
    before = (project_copy / STAGING).read_text()
    lines = before.count("\n") + 1
    try:
        _load(project_copy, "secret_delivery: tmpfs\n")
    except DefinitionError as exc:
        assert str(exc) == f"rollouts/staging/web.yaml:{lines}: secret_delivery: should be one of file, env"
    else:
        raise AssertionError("not refused")
    result = CliRunner().invoke(main, ["--project", str(project_copy), "lint"])
    assert result.exit_code == 2 and "secret_delivery: should be one of file, env" in result.stderr


def test_schema_shows_secret_delivery():
    schema = json.loads(CliRunner().invoke(main, ["schema", "rollout"]).stdout)
    assert schema["properties"]["secret_delivery"]["enum"] == ["file", "env"]
