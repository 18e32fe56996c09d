"""Helpers shared by the rollout integration tests: a scratch project with one environment per
test, the CLI, load through the balancer, and evidence that fleets were not touched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from click.testing import CliRunner

from bakery.balancer import commands as cmd
from bakery.cli import main
from bakery.engine import labels
from bakery.engine.scope import PROJECT_LABEL, scope_for
from bakery.project import Project
from bakery.store import builds, journal, verifications
from bakery.store.db import connect

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def scratch_project(docker_engine, root: Path, envs: tuple[str, ...]) -> Iterator[Project]:
    """A copy of the repo's images/ and rollouts/ (production dropped) with a staging-like
    definition per env on its own free port; BAKERY_PROJECT points at it while it is in use,
    and every container and network of the project is removed afterwards."""
    root.mkdir()
    for folder in ("images", "rollouts"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.rmtree(root / "rollouts" / "production")
    for env in envs:
        env_definition(root, env)
    project = Project(root)
    saved = os.environ.get("BAKERY_PROJECT")
    os.environ["BAKERY_PROJECT"] = str(root)
    try:
        yield project
    finally:
        if saved is None:
            os.environ.pop("BAKERY_PROJECT", None)
        else:
            os.environ["BAKERY_PROJECT"] = saved
        pid = scope_for(project, "x", "web").project_id
        for c in docker_engine.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={pid}"}):
            c.remove(force=True)
        for net in docker_engine.networks.list(filters={"label": f"{PROJECT_LABEL}={pid}"}):
            net.remove()


def mark_verified(project: Project, record: builds.BuildRecord, passed: bool = True) -> None:
    """Records a verification result without running one. Used where the real `bakery verify` of
    the same definition runs elsewhere in the suite, or where an image must look verified (or
    failed) for the path under test."""
    conn = connect(project.db_path)
    try:
        verifications.record(conn, verifications.VerificationRecord(
            record.fingerprint, f"bakery/{record.name}:{record.version}", passed,
            journal.now(), 0.0, {"by": "tests/integration/rollout_support.py mark_verified"}))
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_definition(root: Path, env: str) -> None:
    text = (REPO / "rollouts/staging/web.yaml").read_text()
    text = text.replace("environment: staging", f"environment: {env}")
    text = text.replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{free_port()}")
    text = text.replace("pause: 5s", "pause: 1s").replace("probes: 40", "probes: 30")
    # A busy shared machine must not fail a good canary on latency; error rate is what is tested.
    text = text.replace("max_p99_ms: 500", "max_p99_ms: 5000")
    text = text.replace("drain_timeout: 10s", "drain_timeout: 3s").replace("start_timeout: 60s",
                                                                           "start_timeout: 30s")
    folder = root / "rollouts" / env
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "web.yaml").write_text(text)


def declare_api_token(project: Project, env: str, monkeypatch) -> str:  # noqa: ANN001 - pytest's
    """`web` in ``env`` declares the secret API_TOKEN, given a fresh random value the way a user
    would (BAKERY_SECRET_API_TOKEN); returns the value, for tests that look for it."""
    value = "s3cr3t-" + os.urandom(6).hex()
    monkeypatch.setenv("BAKERY_SECRET_API_TOKEN", value)
    path = project.rollout_path(env, "web")
    path.write_text(path.read_text() + "secrets: [API_TOKEN]\n")
    return value


def bakery(project: Project, *args: str):
    result = CliRunner().invoke(main, ["--project", str(project.root), *args], catch_exceptions=False)
    return result


def url(project: Project, env: str) -> str:
    defn = project.load_rollout(env, "web")
    return f"http://127.0.0.1:{defn.listen_port}/"


def version_at(project: Project, env: str) -> str:
    page = httpx.get(url(project, env) + "version", timeout=5)
    assert page.status_code == 200, page.text
    return page.text.strip()


def fleet_snapshot(docker_engine, project: Project, env: str, version: str) -> dict[str, tuple]:
    scope = scope_for(project, env, "web")
    found = {}
    for c in docker_engine.containers.list(all=True, filters={"label": scope.label_filter("service")}):
        if c.labels[labels.IMAGE_VERSION] == version:
            found[c.id] = (c.attrs["State"]["StartedAt"], c.attrs["RestartCount"], c.status)
    return found


def lb_stats(project: Project, env: str) -> dict[str, cmd.ServerStat]:
    from bakery.balancer.haproxy import HAProxy

    return HAProxy(scope_for(project, env, "web"), project.load_rollout(env, "web")).stats()


class Load:
    """Requests through the load balancer from a thread; every answer is kept."""

    def __init__(self, target: str):
        self.target = target
        self.codes: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                try:
                    self.codes.append(client.get(self.target).status_code)
                except httpx.HTTPError:
                    self.codes.append(-1)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


# Runs the CLI in a child process that SIGKILLs itself on the Nth call of module:attr, so a
# kill -9 lands exactly at one step of a rollout (no race with a reader of its output).
CRASH_AT = """
import importlib, os, signal, sys
target, nth = sys.argv[1], int(sys.argv[2])
module, _, attr = target.partition(":")
owner = importlib.import_module(module)
original, calls = getattr(owner, attr), [0]
def die_on_nth(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
setattr(owner, attr, die_on_nth)
from bakery.cli.app import main
main(sys.argv[3:], prog_name="bakery")
"""


def run_killed_at(root: Path, target: str, nth: int, *args: str,
                  timeout: float = 300) -> subprocess.CompletedProcess:
    """`bakery --project ROOT ARGS` in a child that kill -9s itself on the ``nth`` call of
    ``target`` ("module:attribute"); the caller checks the exit code (-9 when it landed)."""
    return subprocess.run([sys.executable, "-c", CRASH_AT, target, str(nth), "--project", str(root), *args],
                          capture_output=True, text=True, timeout=timeout)
