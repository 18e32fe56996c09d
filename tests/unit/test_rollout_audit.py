"""bakery drift's gathering (rollout/audit.py) over the fake runtime and balancer and a stand-in
inspector: live and standby members, missing slots, a fleet that cannot be read, and that it
changes nothing (no balancer command, no runtime call that acts, no journal row)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bakery.drift.findings import exit_code
from bakery.errors import EngineError
from bakery.project import Project
from bakery.rollout import audit
from tests.fakes import FakeBalancer, FakeLock, FakeRuntime
from tests.unit.test_rollout_reconcile import FakeInspector
from tests.unit.test_rollout_service import World, _release


@pytest.fixture
def world(project_copy: Path) -> World:
    defn = project_copy / "rollouts" / "staging" / "web.yaml"
    defn.write_text(defn.read_text().replace("pause: 5s", "pause: 10ms"))
    project = Project(project_copy)
    for version in ("1.0.0", "1.1.0"):
        _release(project, version, f"img-web-{version}")
    runtime = FakeRuntime()
    return World(project, runtime, FakeBalancer(runtime), FakeLock(), [])


def drift(w: World, inspector: FakeInspector) -> list:
    ports = w.ports()

    def wired(defn):
        return ports

    return audit.drift(w.project, "staging", ports=wired, inspector=inspector)


def test_live_and_standby_members_are_each_reported_and_nothing_is_changed(world):
    world.rollout("1.0.0")
    world.rollout("1.1.0")
    commands, calls, rows = list(world.lb.commands), list(world.runtime.calls), world.rows()
    reports = drift(world, FakeInspector(lambda: set()))
    assert sorted((r.role, r.version, r.slot, r.verdict) for r in reports) == [
        ("live", "1.1.0", 1, "clean"), ("live", "1.1.0", 2, "clean"),
        ("standby", "1.0.0", 1, "clean"), ("standby", "1.0.0", 2, "clean")]
    assert exit_code(reports) == 0
    assert world.lb.commands == commands and world.runtime.calls == calls and world.rows() == rows


def test_a_missing_live_member_is_drift_and_an_unreadable_fleet_is_exit_1(world):
    world.rollout("1.0.0")
    fleet = next(iter(world.runtime.fleets.values()))
    world.runtime.fleets[fleet.rollout_id] = replace(fleet, members=fleet.members[:1])
    reports = drift(world, FakeInspector(lambda: set()))
    missing = [r for r in reports if r.verdict == "drifted"]
    assert [(r.slot, r.findings[0].detail) for r in missing] == [(2, "missing: the slot has no container")]
    assert exit_code(reports) == 3

    def broken(scope):
        raise EngineError("the engine does not answer")

    world.runtime.list_fleets = broken  # type: ignore[method-assign]
    reports = drift(world, FakeInspector(lambda: set()))
    assert [r.verdict for r in reports] == ["unreadable"] and "does not answer" in reports[0].error
    assert exit_code(reports) == 1
