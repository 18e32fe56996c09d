"""Bugs found by using bakery as a user would (the bake side), checked against the real engine."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakery.engine.client import engine

pytestmark = pytest.mark.docker

BAKERY = str(Path(sys.executable).with_name("bakery"))


def tags_of(name: str) -> list[str]:
    return sorted(t for image in engine().images.list(name=f"bakery/{name}") for t in image.tags)


@pytest.fixture
def scratch(tmp_path: Path, docker_engine, base_image):
    """A project of small images (no packages) with unique names; their tags go afterwards."""
    root = tmp_path / "project"
    (root / "images").mkdir(parents=True)
    names: list[str] = []

    def add(stem: str, body: str) -> str:
        name = f"audit-{stem}-{secrets.token_hex(3)}"
        (root / "images" / name).mkdir()
        (root / "images" / name / "image.yaml").write_text(
            f"name: {name}\nversion: 1.0.0\nbase: debian:bookworm\n{body}")
        names.append(name)
        return name

    yield root, add
    for name in names:
        for tag in tags_of(name):
            engine().images.remove(tag, force=True)


def run_bakery(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BAKERY_PROJECT": str(root)}
    return subprocess.run([BAKERY, *args], env=env, capture_output=True, text=True, timeout=300)


def test_env_values_reach_the_image_literally(scratch) -> None:
    root, add = scratch
    name = add("env", "env:\n  PRICE: '$5 and ${HOME}'\n  GREETING: héllo\n"
                      "  QUOTED: 'say \"hi\" \\ ok'\ncmd: [sleep, infinity]\n")
    proc = run_bakery(root, "build", name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = engine().images.get(f"bakery/{name}:1.0.0").attrs["Config"]["Env"]
    assert "PRICE=$5 and ${HOME}" in env
    assert "GREETING=héllo" in env
    assert 'QUOTED=say "hi" \\ ok' in env
