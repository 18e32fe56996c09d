"""reconcile's decisions (pure, as data) and its replace path through the real service, store
and state machine with the fake runtime and balancer: a drifted member is drained, replaced
from the same image and put back; traffic never has nowhere to go; a second pass does nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bakery.balancer import commands as cmd
from bakery.drift import facts as f
from bakery.project import Project
from bakery.rollout import reconcile as rc
from bakery.store import journal
from tests.fakes import FakeBalancer, FakeLock, FakeRuntime
from tests.unit.test_rollout_service import World, _release

FP, OTHER = "a" * 64, "b" * 64


@pytest.mark.parametrize(("args", "expected"), [
    ((None, FP, (), (), 2, False, False), "rollout"),
    ((OTHER, FP, (), (), 2, False, False), "rollout"),
    ((FP, FP, (), (), 2, False, False), "noop"),
    ((FP, FP, (1,), (), 2, False, False), "replace"),
    ((FP, FP, (), (2,), 2, False, False), "replace"),
    ((FP, FP, (1,), (), 1, False, False), "refused"),  # the only serving member: never drained
    ((FP, FP, (1,), (1,), 1, False, False), "replace"),  # ... unless it serves nothing already
    ((OTHER, FP, (), (), 2, True, False), "refused"),  # production without --yes / auto
    ((OTHER, FP, (), (), 2, True, True), "rollout"),
    ((FP, FP, (), (), 2, True, False), "noop"),  # nothing to change needs no permission
])
def test_decide(args: tuple, expected: str) -> None:
    action, why = rc.decide(*args)
    assert action == expected, why
    assert why


def test_production_refusal_says_how_to_allow_it() -> None:
    _, why = rc.decide(OTHER, FP, (), (), 2, True, False)
    assert "--yes or `auto: true`" in why


class FakeInspector:
    """Members as the fake runtime started them: clean, except the container ids in ``drifted``."""

    def __init__(self, drifted: Callable[[], set[str]]):
        self.drifted = drifted
        self.image_facts = f.ImageFacts("img-web-1.0.0", ("nginx",), None, frozenset({"PATH"}), "www-data",
                                        {}, (), None)

    def image(self, image_id: str) -> f.ImageFacts | None:
        return f.ImageFacts(image_id, *list(self.image_facts.__dict__.values())[1:])

    def member(self, container_id: str, compare, image_id: str) -> f.MemberFacts:
        seen = f.MemberFacts(container_id, "running", image_id, {}, ("nginx",), None, frozenset({"PATH"}),
                             "www-data", "no")
        if container_id in self.drifted():
            seen.changes = (("/etc/nginx/evil.conf", f.ADDED),)
        return seen


@pytest.fixture
def world(project_copy: Path) -> World:
    """The fake world of test_rollout_service; staging pins web 1.0.0 (1.1.0 is built too)."""
    defn = project_copy / "rollouts" / "staging" / "web.yaml"
    defn.write_text(defn.read_text().replace("pause: 5s", "pause: 10ms").replace("probes: 40", "probes: 20")
                    .replace("  name: web\n", "  name: web\n  version: 1.0.0\n", 1))
    project = Project(project_copy)
    _release(project, "1.0.0", "img-web-1.0.0")
    _release(project, "1.1.0", "img-web-1.1.0")
    runtime = FakeRuntime()
    return World(project, runtime, FakeBalancer(runtime), FakeLock(), [])


def test_a_drifted_member_is_drained_replaced_and_put_back_and_a_second_pass_does_nothing(world):
    assert world.rollout("1.0.0").status == "succeeded"
    fleet = next(iter(world.runtime.fleets.values()))
    one, two = (mb.container_id for mb in sorted(fleet.members, key=lambda mb: mb.index))
    marked = {one}
    inspector = FakeInspector(lambda: marked)
    defn = world.project.load_rollout("staging", "web")

    step = rc.reconcile_one(world.project, defn, emit=world.sink, ports=world.ports(), inspector=inspector)
    assert (step.action, step.slots) == ("replace", (1,)), step.detail
    members = {mb.index: mb.container_id for mb in next(iter(world.runtime.fleets.values())).members}
    assert members[1] != one and members[2] == two
    assert world.lb.outages == []
    row = world.rows()[0]
    assert (row.kind, row.strategy, row.status) == ("repair", "reconcile", "succeeded")
    conn_steps = [s["action"] for s in _steps(world, row.id)]
    assert conn_steps[:2] == ["DrainMembers", "ReplaceMembers"], conn_steps
    drains = [c for c in world.lb.commands if c.endswith("state drain")]
    assert drains == [cmd.set_state("blue", 1, "drain")], drains  # only the drifted slot drained

    again = rc.reconcile_one(world.project, defn, emit=world.sink, ports=world.ports(), inspector=inspector)
    assert again.action == "noop", again.detail


def test_a_changed_definition_becomes_a_rollout_with_its_strategy(world):
    assert world.rollout("1.0.0").status == "succeeded"
    path = world.project.rollouts_dir / "staging" / "web.yaml"
    path.write_text(path.read_text().replace("version: 1.0.0", "version: 1.1.0", 1))
    defn = world.project.load_rollout("staging", "web")
    inspector = FakeInspector(lambda: set())
    step = rc.reconcile_one(world.project, defn, emit=world.sink, ports=world.ports(), inspector=inspector)
    assert step.action == "rollout", step.detail
    assert world.status()["live"]["version"] == "1.1.0"
    row = world.rows()[0]
    assert (row.kind, row.strategy, row.version) == ("rollout", "canary", "1.1.0")
    assert world.lb.outages == []
    again = rc.reconcile_one(world.project, defn, emit=world.sink, ports=world.ports(), inspector=inspector)
    assert again.action == "noop"


def _steps(w: World, rollout_id: str) -> list[dict]:
    from bakery.store.db import connect

    conn = connect(w.project.db_path)
    try:
        return journal.steps(conn, rollout_id)
    finally:
        conn.close()


def test_watch_ends_cleanly_on_sigterm(project_copy: Path) -> None:
    env = {**os.environ, "BAKERY_PROJECT": str(project_copy)}
    argv = [sys.executable, "-c", "from bakery.cli.app import run; run()",
            "reconcile", "--env", "nowhere", "--watch", "1"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # printed once the SIGTERM handler is in place
        assert "until SIGTERM" in first, first
        proc.send_signal(signal.SIGTERM)
        out, rest = proc.communicate(timeout=30)
        err = first + rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "SIGTERM: stopping after the current step" in err
