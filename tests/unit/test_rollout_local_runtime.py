"""The local engine adapter's own words: which fleet is unhealthy, and an engine that does not
answer is said to be so (not "image missing"). Driven with a stand-in docker client."""

from __future__ import annotations

from types import SimpleNamespace

import docker.errors
import pytest
from click.testing import CliRunner

from bakery.build.fingerprint import fingerprint_tag
from bakery.cli import main
from bakery.engine import labels
from bakery.engine.client import engine
from bakery.engine.scope import SLOT_LABEL, Scope
from bakery.errors import EngineError, RolloutError
from bakery.project import Project
from bakery.rollout.adapters.local import LocalRuntime
from bakery.store import builds, journal, verifications
from bakery.store.db import open_store


def container(cid: str, colour: str, status: str, health: str) -> SimpleNamespace:
    lab = {labels.ROLLOUT_ID: "r1", labels.COLOUR: colour, labels.IMAGE_NAME: "web",
           labels.IMAGE_VERSION: "1.1.0", labels.FINGERPRINT: "f" * 64, SLOT_LABEL: "1"}
    return SimpleNamespace(id=cid, name=f"{colour}1", labels=lab, status=status, attrs={
        "Created": "2026", "State": {"Status": status, "Health": {"Status": health, "Log": []}},
        "NetworkSettings": {"Networks": {}}}, logs=lambda tail: b"")


def row(c: SimpleNamespace) -> dict:
    """The container as the engine's list endpoint answers (what LocalRuntime lists with)."""
    health = c.attrs["State"]["Health"]["Status"]
    return {"Id": c.id, "Names": [f"/{c.name}"], "Labels": c.labels, "State": c.status, "Created": 0,
            "Status": f"Up 3 seconds ({health})", "NetworkSettings": c.attrs["NetworkSettings"]}


class Client:
    def __init__(self, found: list[SimpleNamespace]):
        self.containers = SimpleNamespace(get=lambda cid: found[0])
        self.api = SimpleNamespace(containers=lambda **kw: [row(c) for c in found])
        self.images = SimpleNamespace(get=self._image)

    @staticmethod
    def _image(ref: str) -> None:
        raise docker.errors.APIError("500 Server Error: the engine is shutting down")


def test_an_unhealthy_fleet_is_named_by_its_own_colour(tmp_path):
    scope = Scope(tmp_path, tmp_path / ".bakery", "staging", "web")
    runtime = LocalRuntime(Client([container("c1", "blue", "running", "unhealthy")]))
    with pytest.raises(RolloutError, match=r"the blue fleet \(1\.1\.0\) is not healthy"):
        runtime.wait_healthy(scope, "r1", timeout=1.0, poll=0.05)


def test_an_engine_error_about_an_image_is_not_reported_as_a_missing_image():
    with pytest.raises(EngineError, match="did not answer"):
        LocalRuntime(Client([])).image_present("bakery/web:fp-ffff")


def test_rollout_with_no_engine_says_the_engine_does_not_answer(project_copy, monkeypatch):
    project = Project(project_copy)
    fp = "a" * 64
    conn = open_store(project)
    try:
        builds.record(conn, builds.BuildRecord(fp, "web", "1.0.0", "sha256:x", "2026-01-01T00:00:00"))
        verifications.record(conn, verifications.VerificationRecord(
            fp, fingerprint_tag("web", fp), True, journal.now(), 0.0))
    finally:
        conn.close()
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")  # a closed loopback port
    engine.cache_clear()
    try:
        for args in (["rollout", "web", "--env", "staging", "--image", "1.0.0"],
                     ["rollout", "web", "--env", "staging", "--image", "1.0.0", "--plan"]):
            result = CliRunner().invoke(main, ["--project", str(project_copy), *args])
            assert result.exit_code == 1, result.output
            assert "no Docker engine answers" in result.output and "run `bakery build" not in result.output
    finally:
        engine.cache_clear()
