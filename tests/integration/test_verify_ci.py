"""bakery ci: lints everything, builds and verifies only what changed since --base, writes JUnit."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

BAKERY = str(Path(sys.executable).with_name("bakery"))


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci", *args],
                   cwd=root, check=True, capture_output=True)


def test_ci_builds_and_verifies_only_changed_images(project, base_image, tmp_path):
    root = project.root
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "start")
    # A comment changes the folder but not the definition: web is re-verified, lb is not touched.
    image_yaml = root / "images" / "web" / "image.yaml"
    image_yaml.write_text(image_yaml.read_text() + "# reviewed\n")
    rollout = next(root.glob("rollouts/*/*.yaml"))
    rollout.write_text(rollout.read_text() + "# reviewed\n")
    junit_path = tmp_path / "ci.xml"
    env = {**os.environ, "BAKERY_PROJECT": str(root), "COLUMNS": "200"}
    proc = subprocess.run([BAKERY, "ci", "--base", "HEAD", "--junit", str(junit_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "lint images/lb/image.yaml" in out
    assert "images changed since HEAD: web" in out
    assert "rollout changes (linted only)" in out
    assert "build lb" not in out and "verifying lb" not in out
    assert "ci passed" in out
    suites = ET.parse(junit_path).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["bakery lint", "bakery build",
                                               "bakery verify web:1.0.0"]
    lint_cases = [c.get("name") for c in suites[0].findall("testcase")]
    assert "images/lb/image.yaml" in lint_cases and rollout.relative_to(root).as_posix() in lint_cases
    assert [c.get("name") for c in suites[1].findall("testcase")] == ["web"]
    assert len(suites[2].findall("testcase")) >= 18
    assert suites[2].get("failures") == "0" and suites[2].get("errors") == "0"


def test_ci_fails_on_a_lint_error_and_still_writes_junit(project, tmp_path):
    broken = project.root / "images" / "lb" / "image.yaml"
    broken.write_text(broken.read_text().replace("version: 1.0.0", "version: one"))
    # nothing changed since HEAD in a fresh repo: lint only, no engine work
    git(project.root, "init", "-q")
    git(project.root, "add", ".")
    git(project.root, "commit", "-qm", "start")
    junit_path = tmp_path / "ci.xml"
    env = {**os.environ, "BAKERY_PROJECT": str(project.root), "COLUMNS": "200"}
    proc = subprocess.run([BAKERY, "ci", "--base", "HEAD", "--junit", str(junit_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "images/lb/image.yaml:" in out and "version" in out
    assert "nothing to build" in out
    root = ET.parse(junit_path).getroot()
    assert root.get("errors") == "1"
