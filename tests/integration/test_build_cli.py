"""`bakery build` as a user runs it (a subprocess, the real engine): env values reach the image
literally, and Ctrl-C during parallel builds tags and records nothing."""

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
        name = f"cli-{stem}-{secrets.token_hex(3)}"
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


def test_ctrl_c_during_parallel_builds_tags_nothing(scratch) -> None:
    """-j 2, Ctrl-C while both run a step: exit 130 and no image of either is tagged (the
    worker threads used to finish their builds, tag and record them, then say interrupted)."""
    root, add = scratch
    marker = secrets.token_hex(4)
    names = [add(f"int{i}", f"run:\n  - 'echo {marker}; sleep 6'\ncmd: [sleep, infinity]\n")
             for i in (1, 2)]
    env = {**os.environ, "BAKERY_PROJECT": str(root)}
    proc = subprocess.Popen([BAKERY, "build", "-j", "2", *names], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # plain progress: one line per step
            seen.append(line)
            if sum(marker in x and " RUN " in x for x in seen) == 2:
                break
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        out = "".join(seen) + proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    assert [tags_of(n) for n in names] == [[], []], out
    assert "reading installed packages" not in out  # no build went on to be recorded
