"""A deliberately flawed image fails verification with exit 1 and a report naming the failing
checks; Ctrl-C or SIGTERM in the middle of a run leaves no container or network behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakery.engine import labels
from bakery.engine.client import engine
from bakery.project import Project
from bakery.store import verifications
from bakery.store.db import connect

pytestmark = pytest.mark.docker

BAKERY = str(Path(sys.executable).with_name("bakery"))
REPO = Path(__file__).resolve().parents[2]
NAME = "flawed"


def leftovers(name: str = NAME) -> tuple[list[str], list[str]]:
    filters = {"label": [f"{labels.ROLE}=verify", f"{labels.IMAGE_NAME}={name}"]}
    # The low-level listing: no per-container inspect that could race with a removal.
    containers = [c["Names"][0].lstrip("/") for c in engine().api.containers(all=True, filters=filters)]
    networks = [n["Name"] for n in engine().api.networks(filters=filters)]
    return containers, networks


@pytest.fixture(scope="module")
def flawed(tmp_path_factory, docker_engine, base_image) -> Project:
    """web, but nginx listens on 8081 while the definition (and its health check) say 8080,
    a private key has been left in the image, and the start command writes a secret to disk."""
    root = tmp_path_factory.mktemp("flawed") / "project"
    shutil.copytree(REPO / "images" / "web", root / "images" / NAME)
    yaml_path = root / "images" / NAME / "image.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("name: web", f"name: {NAME}").replace(
        "  - src: files/index.html.in",
        "  - src: files/deploy.key\n    dest: /etc/nginx/deploy.key\n  - src: files/index.html.in").replace(
        'cmd: [nginx, -g, "daemon off;"]',
        'secrets: [API_TOKEN]\n'
        'cmd: printf %s "$API_TOKEN" > /tmp/token && exec nginx -g "daemon off;"'))
    conf = root / "images" / NAME / "files" / "nginx.conf"
    conf.write_text(conf.read_text().replace("listen 8080;", "listen 8081;"))
    (root / "images" / NAME / "files" / "deploy.key").write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
        "-----END RSA PRIVATE KEY-----\n")
    env = {**os.environ, "BAKERY_PROJECT": str(root)}
    subprocess.run([BAKERY, "build", NAME], env=env, check=True, capture_output=True, timeout=600)
    return Project(root)


def run_bakery(project: Project, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BAKERY_PROJECT": str(project.root), "COLUMNS": "200"}
    return subprocess.run([BAKERY, *args], env=env, capture_output=True, text=True, timeout=300,
                          **kwargs)


def test_flawed_image_fails_with_a_readable_report(flawed, tmp_path):
    junit_path = tmp_path / "flawed.xml"
    proc = run_bakery(flawed, "verify", NAME, "--junit", str(junit_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # which checks, the assertion, the command run inside the container and its output
    assert "FAILED flawed: port_listening[8080]" in out
    assert "nothing listens on port 8080 on a reachable address (listening: 0.0.0.0:8081" in out
    assert "$ cat /proc/net/tcp /proc/net/tcp6" in out
    assert "FAILED flawed: healthcheck_status" in out
    assert "FAILED flawed: no_private_keys" in out and "/etc/nginx/deploy.key" in out
    assert "error: flawed 1.0.0 failed verification:" in out
    assert "Traceback" not in out
    assert "FAILED flawed: no_secret_values" in out
    assert "secret value: /tmp/token (value of API_TOKEN)" in out
    assert "bakery-test-api_token-" not in out  # the value itself is never shown
    failing = out.split("failed verification:")[1]
    assert "declared_user" not in failing and "main_process" not in failing  # what works is not blamed
    assert leftovers() == ([], [])
    assert "port_listening[8080]" in junit_path.read_text()
    conn = connect(flawed.db_path)
    try:
        rows = conn.execute("SELECT fingerprint FROM verifications").fetchall()
        latest = verifications.latest(conn, rows[-1]["fingerprint"])
    finally:
        conn.close()
    assert latest is not None and not latest.passed


def test_json_report_of_a_failure(flawed):
    proc = run_bakery(flawed, "verify", f"{NAME}:1.0.0", "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["passed"] is False
    failed = {c["name"]: c for c in report["checks"] if not c["passed"]}
    assert "port_listening[8080]" in failed
    assert failed["port_listening[8080]"]["command"] == "cat /proc/net/tcp /proc/net/tcp6"
    assert leftovers() == ([], [])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_removes_its_container(flawed, sig):
    assert leftovers() == ([], [])
    env = {**os.environ, "BAKERY_PROJECT": str(flawed.root)}
    proc = subprocess.Popen([BAKERY, "verify", NAME], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while leftovers()[0] == [] and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert leftovers()[0], "the throwaway container never appeared"
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "interrupted" in out
    assert leftovers() == ([], [])
