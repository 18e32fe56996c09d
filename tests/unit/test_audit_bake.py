"""Bugs found by using bakery as a user would (the bake side): each test failed before its fix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.build.dockerfile import healthcheck_instruction, render
from bakery.cli import main
from bakery.definitions.image import HealthCheck, load_image
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


# --project pointing nowhere ------------------------------------------------------------------

@pytest.mark.parametrize("command", [["lint"], ["images"], ["ci"], ["diff", "web", "1", "2"]])
def test_project_that_does_not_exist_is_bad_input_and_creates_nothing(tmp_path: Path, command) -> None:
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(main, ["--project", str(missing), *command])
    assert result.exit_code == 2, result.output
    assert "nowhere" in result.output and "no images/ or rollouts/" in result.output
    assert not missing.exists()


def test_project_folder_without_images_or_rollouts_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "images"])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / ".bakery").exists()


# image names on the command line ----------------------------------------------------------

@pytest.mark.parametrize("name", ["web/../lb", "../images/web", "web/", "."])
def test_image_name_with_a_path_is_not_an_image(project_copy: Path, name: str) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_copy), "build", name])
    assert result.exit_code == 2, result.output
    assert "no image definition named" in result.output
    assert not (project_copy / ".bakery").exists()


# files under .bakery/ -------------------------------------------------------------------------

@pytest.mark.parametrize("src", [".bakery/x", "./.bakery/x", "files/../.bakery/x"])
def test_src_under_dot_bakery_is_a_lint_error_with_line_and_key(tmp_path: Path, src: str) -> None:
    (tmp_path / "images" / "t" / ".bakery").mkdir(parents=True)
    (tmp_path / "images" / "t" / ".bakery" / "x").write_text("x")
    err = lint_error(tmp_path, HEAD + f"files:\n  - src: {src}\n    dest: /x\n")
    assert err.line == 5 and err.key == "files[0].src"
    assert ".bakery/" in err.message


# versions that cannot become a tag ----------------------------------------------------------

def test_version_too_long_for_a_docker_tag_is_a_lint_error(tmp_path: Path) -> None:
    err = lint_error(tmp_path, f"name: t\nversion: 1.0.0-{'a' * 200}\nbase: debian:bookworm\n")
    assert err.line == 2 and err.key == "version"
    assert "at most" in err.message


def test_a_long_but_taggable_version_is_fine(tmp_path: Path) -> None:
    path = write_image(tmp_path, f"name: t\nversion: 1.0.0-{'a' * 80}\nbase: debian:bookworm\n")
    assert load_image(path, tmp_path).version.endswith("a" * 80)


# secret literals outside env and labels -----------------------------------------------------

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


def test_the_repository_images_still_lint(project_copy: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_copy), "lint"])
    assert result.exit_code == 0, result.output


# env values in the Dockerfile --------------------------------------------------------------

def test_env_values_are_rendered_literally(tmp_path: Path) -> None:
    body = HEAD + "env:\n  PRICE: '$5 and ${HOME}'\n  G: héllo\n  Q: 'say \"hi\" \\ ok'\n"
    defn = load_image(write_image(tmp_path, body), tmp_path)
    env_line = next(x for x in render(defn, "base").splitlines() if x.startswith("ENV "))
    assert 'PRICE="\\$5 and \\${HOME}"' in env_line
    assert 'G="héllo"' in env_line
    assert 'Q="say \\"hi\\" \\\\ ok"' in env_line


def test_env_value_with_a_newline_is_a_lint_error(tmp_path: Path) -> None:
    err = lint_error(tmp_path, HEAD + 'env:\n  NOTE: "two\\nlines"\n')
    assert (err.line, err.key) == (5, "env.NOTE")
    assert "newline" in err.message


# http health check paths --------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/a'b%d", "/health?x=%20y", "/a\\b", "/$(id)"])
def test_http_health_path_is_passed_as_data_not_shell_or_printf_format(path: str) -> None:
    line = healthcheck_instruction(HealthCheck(http_path=path, http_port=80))
    script = json.loads(line.split(" CMD ", 1)[1])[2]
    connect, _, rest = script.partition(" && ")
    assert connect == "exec 3<>/dev/tcp/127.0.0.1/80"
    request = rest.split(" && head", 1)[0]  # the printf ... >&3 part, run with fd 3 = stdout
    out = subprocess.run(["bash", "-c", f"exec 3>&1 && {request}"], capture_output=True,
                         check=True).stdout
    assert out == f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode()


def test_plain_http_health_path_is_requested() -> None:
    line = healthcheck_instruction(HealthCheck(http_path="/healthz", http_port=8080))
    assert "printf 'GET %s HTTP/1.0\\\\r\\\\nHost: localhost\\\\r\\\\n\\\\r\\\\n' /healthz >&3" in line


# bakery verify NAME:VERSION with something that is not a version ------------------------------

@pytest.mark.parametrize("ref", ["web:notaversion", "web:1.0.0:x", "web:v1.0.0"])
def test_verify_of_a_non_version_says_so_and_touches_nothing(project_copy: Path, ref: str) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_copy), "verify", ref])
    assert result.exit_code == 2, result.output
    assert "is not a version" in result.output
    assert not (project_copy / ".bakery").exists()


def test_patch_versions_are_versions_for_verify() -> None:
    from bakery.verify.runner import parse_ref

    assert parse_ref("web:1.0.0+patch.2") == ("web", "1.0.0+patch.2")
    assert parse_ref("web:1.0.0_patch.2") == ("web", "1.0.0+patch.2")  # as the Docker tag spells it


# base references the engine cannot parse ------------------------------------------------------

@pytest.mark.parametrize("ref", ["debian:../x", "debian:", ":bookworm", "Debian:bookworm",
                                 "debian:bookworm;rm", "debian:.hidden", "deb--ian/:x"])
def test_bakery_base_with_a_malformed_reference_is_bad_input(ref: str) -> None:
    result = CliRunner().invoke(main, ["base", ref])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or \
        isinstance(result.exception, SystemExit)
    assert "like debian:bookworm" in result.output


@pytest.mark.parametrize("ref", ["debian:.hidden", "debian:..", "debian/:x", "a..b:x"])
def test_malformed_base_in_a_definition_is_a_lint_error(tmp_path: Path, ref: str) -> None:
    err = lint_error(tmp_path, f"name: t\nversion: 1.0.0\nbase: '{ref}'\n")
    assert (err.line, err.key) == (3, "base")
