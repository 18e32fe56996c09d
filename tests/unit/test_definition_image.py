"""image.yaml rules beyond the schema's types: files under .bakery/, versions that must fit a
Docker tag, secret literals in commands, env values an image cannot carry, base references."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.definitions.image import load_image
from bakery.errors import DefinitionError

HEAD = "name: t\nversion: 1.0.0\nbase: debian:bookworm\n"


def write_image(root: Path, body: str, name: str = "t") -> Path:
    folder = root / "images" / name
    (folder / "files").mkdir(parents=True, exist_ok=True)
    (folder / "files" / "a.txt").write_text("hello\n")
    path = folder / "image.yaml"
    path.write_text(body)
    return path


def lint_error(root: Path, body: str) -> DefinitionError:
    path = write_image(root, body)
    with pytest.raises(DefinitionError) as info:
        load_image(path, root)
    return info.value



@pytest.mark.parametrize("src", [".bakery/x", "./.bakery/x", "files/../.bakery/x"])
def test_src_under_dot_bakery_is_a_lint_error_with_line_and_key(tmp_path: Path, src: str) -> None:
    (tmp_path / "images" / "t" / ".bakery").mkdir(parents=True)
    (tmp_path / "images" / "t" / ".bakery" / "x").write_text("x")
    err = lint_error(tmp_path, HEAD + f"files:\n  - src: {src}\n    dest: /x\n")
    assert err.line == 5 and err.key == "files[0].src"
    assert ".bakery/" in err.message


def test_version_too_long_for_a_docker_tag_is_a_lint_error(tmp_path: Path) -> None:
    err = lint_error(tmp_path, f"name: t\nversion: 1.0.0-{'a' * 200}\nbase: debian:bookworm\n")
    assert err.line == 2 and err.key == "version"
    assert "at most" in err.message


def test_a_long_but_taggable_version_is_fine(tmp_path: Path) -> None:
    path = write_image(tmp_path, f"name: t\nversion: 1.0.0-{'a' * 80}\nbase: debian:bookworm\n")
    assert load_image(path, tmp_path).version.endswith("a" * 80)


TOKEN = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize(("body", "line", "key"), [
    (f"run:\n  - \"curl -H 'Authorization: token {TOKEN}' https://example.com\"\n", 5, "run[0]"),
    ("run:\n  - echo ok\n  - curl -fsS https://admin:s3cr3tpass@example.com/pkg.deb -o x\n",
     6, "run[1]"),
    ("run:\n  - echo DB_PASSWORD=hunter2xyz > /etc/app.env\n", 5, "run[0]"),
    ("run:\n  - export API_TOKEN=abc123 && ./configure\n", 5, "run[0]"),
    (f"cmd: [app, --token, {TOKEN}]\n", 4, "cmd"),
    ("entrypoint: 'AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP exec app'\n", 4, "entrypoint"),
    ("healthcheck:\n  command: curl -f http://u:pw@localhost/\n", 5, "healthcheck.command"),
])
def test_secret_literals_in_commands_are_refused(tmp_path: Path, body: str, line: int, key: str) -> None:
    err = lint_error(tmp_path, HEAD + body)
    assert (err.line, err.key) == (line, key)
    assert "secret literal" in err.message


@pytest.mark.parametrize("body", [
    'run:\n  - printf "%s\\n" "${BAKERY_IMAGE_VERSION}" > /v\n',
    "run:\n  - echo \"API_TOKEN=$API_TOKEN\" > /dev/null\n",
    "run:\n  - 'curl -H \"Authorization: Bearer ${API_TOKEN}\" https://example.com'\n",
    "run:\n  - test -n \"${DB_PASSWORD:-}\"\n",
    "run:\n  - export PASSWORD_FILE=/run/secrets/pw\n",
    "cmd: [nginx, -g, 'daemon off;']\n",
    "cmd: 'exec app --password-file /run/secrets/db'\n",
])
def test_commands_that_only_name_secrets_are_fine(tmp_path: Path, body: str) -> None:
    load_image(write_image(tmp_path, HEAD + body), tmp_path)


def test_env_value_with_a_newline_is_a_lint_error(tmp_path: Path) -> None:
    err = lint_error(tmp_path, HEAD + 'env:\n  NOTE: "two\\nlines"\n')
    assert (err.line, err.key) == (5, "env.NOTE")
    assert "newline" in err.message


@pytest.mark.parametrize("ref", ["debian:.hidden", "debian:..", "debian/:x", "a..b:x"])
def test_malformed_base_in_a_definition_is_a_lint_error(tmp_path: Path, ref: str) -> None:
    err = lint_error(tmp_path, f"name: t\nversion: 1.0.0\nbase: '{ref}'\n")
    assert (err.line, err.key) == (3, "base")

