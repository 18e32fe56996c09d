"""Names that become paths, networks, containers and lock keys are checked once, at the edge.

`--env staging/../staging` used to be taken as an environment: the plan said nothing was
live while staging was, and a real run left networks named with `/` and `..`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.definitions import names
from bakery.errors import UsageError
from bakery.project import Project

BAD = ["staging/../staging", "..", ".", "", "staging/", "/staging", "Staging", "stag ing",
       "-staging", "staging\n", "stag\u200bing", "stag\u202eing", "ſtaging", "s" * 64, "a_b",
       "staging;rm", "$(id)"]


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize("check", [names.env, names.service, names.image])
def test_bad_names_are_usage_errors(check, value: str) -> None:
    with pytest.raises(UsageError) as caught:
        check(value)
    assert caught.value.exit_code == 2
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("value", ["staging", "production", "prod-eu-1", "web", "a", "0", "s" * 63])
def test_good_names_pass(value: str) -> None:
    assert names.env(value) == names.service(value) == names.image(value) == value


@pytest.mark.parametrize("value", ["1.0.0", "1.0.0-rc.1", "1.0.0+patch.2"])
def test_good_versions_pass(value: str) -> None:
    assert names.version(value) == value


@pytest.mark.parametrize("value", ["1.0", "1.0.0/../x", "../1.0.0", "1.0.0-a..b", "v1", "", "1.0.0\n"])
def test_bad_versions_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError):
        names.version(value)


@pytest.mark.parametrize("env", ["staging/../staging", "../rollouts/staging", "staging/."])
def test_project_refuses_a_path_as_an_environment(project_copy: Path, env: str) -> None:
    project = Project(project_copy)
    with pytest.raises(UsageError, match="environment"):
        project.rollout_path(env, "web")
    with pytest.raises(UsageError, match="environment"):
        project.load_rollout(env, "web")


def test_project_refuses_a_path_as_a_service_or_image(project_copy: Path) -> None:
    project = Project(project_copy)
    with pytest.raises(UsageError, match="service"):
        project.load_rollout("staging", "../staging/web")
    with pytest.raises(UsageError, match="no image definition named"):
        project.image_path("web/../lb")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args", [
    ["rollout", "web", "--env", "staging/../staging", "--plan"],
    ["rollout", "web", "--env", "staging/../staging", "--yes"],
    ["rollback", "web", "--env", "staging/../staging", "--yes"],
    ["rollout", "../staging/web", "--env", "staging", "--plan"],
    ["patch", "web", "--rollout", "staging/../staging"],
    ["diff", "web/../lb", "1.0.0", "1.0.1"],
    ["images", "web/../lb"],
    ["verify", "web:1.0.0/../x"],
    ["build", "web/../lb"],
])
def test_cli_refuses_paths_as_names_and_changes_nothing(project_copy: Path, args: list[str]) -> None:
    before = snapshot(project_copy)
    result = CliRunner().invoke(main, ["--project", str(project_copy), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (project_copy / ".bakery").exists()
    assert snapshot(project_copy) == before


def test_lint_still_names_file_and_line_for_a_badly_named_file(project_copy: Path) -> None:
    source = project_copy / "rollouts" / "staging" / "web.yaml"
    (project_copy / "rollouts" / "staging" / "Web.yaml").write_text(
        source.read_text().replace("service: web", "service: Web"))
    result = CliRunner().invoke(main, ["--project", str(project_copy), "lint"])
    assert result.exit_code == 2
    assert "rollouts/staging/Web.yaml:2: service: should be lowercase letters" in result.output


# image names on the command line ------------------------------------------------------------

@pytest.mark.parametrize("name", ["web/../lb", "../images/web", "web/", "."])
def test_image_name_with_a_path_is_not_an_image(project_copy: Path, name: str) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_copy), "build", name])
    assert result.exit_code == 2, result.output
    assert "no image definition named" in result.output
    assert not (project_copy / ".bakery").exists()



@pytest.mark.parametrize(("value", "expected"), [
    ("1.2.0", (None, "1.2.0")), ("web:1.2.0", ("web", "1.2.0")),
    ("web:1.0.0_patch.2", ("web", "1.0.0+patch.2")), ("1.0.0+patch.2", (None, "1.0.0+patch.2")),
])
def test_image_ref(value: str, expected: tuple[str | None, str]) -> None:
    assert names.image_ref(value) == expected


@pytest.mark.parametrize("value", ["../web:1.0.0", "web/x:1.0.0", ":1.0.0", "web:", "web:1.0", "a:b:1.0.0"])
def test_bad_image_ref(value: str) -> None:
    with pytest.raises(UsageError):
        names.image_ref(value)


def test_a_badly_named_image_folder_is_a_definition_error_with_its_line(project_copy: Path) -> None:
    folder = project_copy / "images" / "My_Web"
    folder.mkdir()
    (folder / "image.yaml").write_text("name: My_Web\nversion: 1.0.0\nbase: debian:bookworm\n")
    for args in (["lint"], ["build"]):
        result = CliRunner().invoke(main, ["--project", str(project_copy), *args])
        assert result.exit_code == 2, result.output
        assert "images/My_Web/image.yaml:1: name: should be lowercase letters" in result.output
    assert not (project_copy / ".bakery").exists()
