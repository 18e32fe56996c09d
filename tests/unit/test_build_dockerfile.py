"""The rendered Dockerfile takes user text as data: env values literally, health paths neither
shell syntax nor printf formats."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bakery.build.dockerfile import PACKAGE_STEP_NUMBER, healthcheck_instruction, package_layer, render
from bakery.definitions.image import HealthCheck, load_image

HEAD = "name: t\nversion: 1.0.0\nbase: debian:bookworm\n"


def write_image(root: Path, body: str, name: str = "t") -> Path:
    folder = root / "images" / name
    (folder / "files").mkdir(parents=True, exist_ok=True)
    (folder / "files" / "a.txt").write_text("hello\n")
    path = folder / "image.yaml"
    path.write_text(body)
    return path



def test_env_values_are_rendered_literally(tmp_path: Path) -> None:
    body = HEAD + "env:\n  PRICE: '$5 and ${HOME}'\n  G: héllo\n  Q: 'say \"hi\" \\ ok'\n"
    defn = load_image(write_image(tmp_path, body), tmp_path)
    env_line = next(x for x in render(defn, "base").splitlines() if x.startswith("ENV "))
    assert 'PRICE="\\$5 and \\${HOME}"' in env_line
    assert 'G="héllo"' in env_line
    assert 'Q="say \\"hi\\" \\\\ ok"' in env_line


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



def test_the_package_step_sits_right_on_the_base_and_names_its_layer(tmp_path: Path) -> None:
    # Twins (same base, same packages) then share one parent in the engine's layer cache,
    # whatever SHELL layers other builds running at the same time made (issue 13).
    defn = load_image(write_image(tmp_path, HEAD + "packages: [less]\nrun: [echo hi]\n"), tmp_path)
    lines = render(defn, "base").splitlines()
    assert lines[0] == "FROM base"
    assert lines[PACKAGE_STEP_NUMBER - 1].startswith("RUN ") and "apt-get install" in lines[1]
    assert lines[2].startswith("SHELL ")
    assert package_layer(render(defn, "base")) == lines[1]
    twin = load_image(write_image(tmp_path, HEAD.replace("t\n", "u\n", 1) + "packages: [less]\n"
                                  "run: [echo other]\n", name="u"), tmp_path)
    assert package_layer(render(twin, "base")) == package_layer(render(defn, "base"))


def test_an_image_without_packages_has_no_package_layer(tmp_path: Path) -> None:
    defn = load_image(write_image(tmp_path, HEAD + "run: [echo hi]\n"), tmp_path)
    assert package_layer(render(defn, "base")) is None
    assert render(defn, "base").splitlines()[1].startswith("SHELL ")
