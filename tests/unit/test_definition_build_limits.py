"""Lint refuses what the engine cannot build, naming the limit (issue 12.2).

A 5 MB description used to pass lint and fail the build with HTTP 431; 10,000 packages
made a Dockerfile line over 65,535 characters. The estimates in definitions/limits.py must be
upper bounds of what the renderer really writes; the last tests hold them to that.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from click.testing import CliRunner

from bakery.build.dockerfile import render
from bakery.build.metadata import image_labels
from bakery.cli import main
from bakery.definitions import limits
from bakery.definitions.image import load_image
from bakery.errors import DefinitionError
from bakery.project import Project

from .conftest import REPO

HEAD = "name: t\nversion: 1.0.0\nbase: debian:bookworm\n"


def write(root: Path, text: str) -> Path:
    folder = root / "images" / "t"
    (folder / "files").mkdir(parents=True, exist_ok=True)
    (folder / "files" / "a.txt").write_text("a\n")
    path = folder / "image.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error(root: Path, text: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        load_image(write(root, text), root)
    return caught.value


def packages(n: int) -> str:
    return "packages:\n" + "".join(f"  - package-number-{i}\n" for i in range(n))


def test_ten_thousand_packages_name_the_dockerfile_line_limit(tmp_path: Path) -> None:
    err = error(tmp_path, HEAD + packages(10_000))
    assert (err.line, err.key) == (4, "packages")
    assert "65,535" in err.message and "Dockerfile line" in err.message


def test_a_long_run_step_names_its_key(tmp_path: Path) -> None:
    err = error(tmp_path, HEAD + "run:\n  - echo ok\n  - echo " + "x" * 70_000 + "\n")
    assert (err.line, err.key) == (6, "run[1]") and "65,535" in err.message


def test_env_as_a_whole_is_one_line(tmp_path: Path) -> None:
    env = "".join(f"  VAR_{i}: '{'v' * 100}'\n" for i in range(700))
    err = error(tmp_path, HEAD + "env:\n" + env)
    assert (err.line, err.key) == (4, "env") and "65,535" in err.message


def test_a_description_too_large_for_the_build_request_names_http_431(tmp_path: Path) -> None:
    # 300,000 characters in a 600 kB file, but each é travels as %5Cu00e9 (8 bytes): 2.4 MB.
    err = error(tmp_path, HEAD + "description: " + "é" * 300_000 + "\n")
    assert (err.line, err.key) == (4, "description")
    assert "431" in err.message and "1,048,576" in err.message


def test_a_five_megabyte_description_is_refused_by_lint(tmp_path: Path) -> None:
    write(tmp_path, HEAD + "description: " + "x" * 5_000_000 + "\n")
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "lint"])
    assert result.exit_code == 2
    assert "images/t/image.yaml:1: file is larger than 1 MiB" in result.output and "431" in result.output


def test_large_but_buildable_definitions_pass(tmp_path: Path) -> None:
    defn = load_image(write(tmp_path, HEAD + "description: " + "d" * 200_000 + "\n" + packages(2_000)),
                      tmp_path)
    assert len(defn.packages) == 2_000


def bulky(root: Path) -> Path:
    env = "".join(f"  V{i}: 'a \"quoted\" $dollar \\\\ back é {i}'\n" for i in range(50))
    files = "".join(f"  - {{src: files/a.txt, dest: /opt/t/f{i}~x, mode: '0644', owner: 'root:root'}}\n"
                    for i in range(40))
    return write(root, HEAD + "description: 'é' \n" + packages(300) + "files:\n" + files + "env:\n" + env
                 + "run:\n  - echo 'é ünïcödé \"q\"'\n  - printf '%s\\n' \"$HOME\"\n"
                 + "cmd: [app, 'é', '\"']\nentrypoint: ['/bin/sh', '-c']\n"
                 + "ports: [80]\nhealthcheck:\n  http: {path: '/h?é=%20', port: 80}\n"
                 + "labels:\n  a.b: 'é \"x\"'\n")


@pytest.mark.parametrize("which", ["bulky", "web", "lb"])
def test_line_estimates_are_upper_bounds_of_the_rendered_dockerfile(tmp_path: Path, which: str) -> None:
    defn = load_image(bulky(tmp_path), tmp_path) if which == "bulky" else Project(REPO).load_image(which)
    estimates = dict(limits.dockerfile_lines(defn))
    rendered = render(defn, "bakery/base/debian:bookworm", refresh="2026-12-01T00:00:00Z-" + "f" * 64)
    run_steps = iter(k for k in estimates if k.startswith("run["))
    copies = iter(k for k in estimates if k.startswith("files["))
    for line in rendered.splitlines():
        if line.startswith(("FROM ", "SHELL ", "WORKDIR ", "USER ", "EXPOSE ")):
            continue
        if line.startswith("RUN export DEBIAN_FRONTEND"):
            key = "packages"
        elif line.startswith("RUN chmod") or line.startswith("RUN chown"):
            key = "files"
        elif line.startswith("RUN "):
            key = next(run_steps)
        elif line.startswith("COPY "):
            key = next(copies)
        else:
            key = line.split(" ", 1)[0].lower()
        assert len(line) <= estimates[key], (key, len(line), estimates[key])


@pytest.mark.parametrize("which", ["bulky", "web", "lb"])
def test_request_estimate_is_an_upper_bound_of_the_real_labels(tmp_path: Path, which: str) -> None:
    defn = load_image(bulky(tmp_path), tmp_path) if which == "bulky" else Project(REPO).load_image(which)
    labels = image_labels(defn, "f" * 64, "3", "2026-12-01T00:00:00.000000+00:00",
                          "images/" + "x" * 200 + "/image.yaml", revision="0" * 40)
    real = len(quote_plus(json.dumps(labels)))
    assert real <= sum(limits.request_parts(defn).values()) + limits.REQUEST_RESERVE
