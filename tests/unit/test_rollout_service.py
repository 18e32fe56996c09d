"""The rollout service, driver and state machine, driven through every path with fake ports
(tests/fakes.py): no engine, no HAProxy, a real SQLite journal in a temporary project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bakery.build.fingerprint import fingerprint_tag
from bakery.errors import LockError, RolloutError
from bakery.project import Project
from bakery.rollout import service
from bakery.rollout.adapters.store import open_journal
from bakery.store import builds, journal, verifications
from bakery.store.db import connect
from tests.fakes import Crash, CrashingJournal, FakeBalancer, FakeLock, FakeRuntime


@dataclass
class World:
    project: Project
    runtime: FakeRuntime
    lb: FakeBalancer
    lock: FakeLock
    events: list[tuple[str, dict]]
    crash_at: int | None = None

    def ports(self) -> service.Ports:
        def journal_factory():
            opened = open_journal(self.project)

            class Wrapped:
                def __enter__(inner):
                    j = opened.__enter__()
                    return CrashingJournal(j, self.crash_at) if self.crash_at else j

                def __exit__(inner, *exc):
                    return opened.__exit__(*exc)
            return Wrapped()

        return service.Ports(runtime=self.runtime, balancer=lambda scope, defn: self.lb,
                             journal=journal_factory, lock=self.lock, lb_image=lambda emit: "sha256:lb",
                             probe=self.runtime.probe)

    def rollout(self, version: str, canary: bool = False) -> service.Outcome:
        return service.rollout(self.project, "staging", "web", image=version, canary=canary,
                               on_event=self.sink, ports=self.ports())

    def rollback(self) -> service.Outcome:
        return service.rollback(self.project, "staging", "web", on_event=self.sink, ports=self.ports())

    def status(self) -> dict:
        return service.status(self.project, "staging", ports=self.ports())[0]

    def sink(self, kind: str, data: dict) -> None:
        self.events.append((kind, data))

    def texts(self) -> str:
        return "\n".join(str(d.get("text", d.get("reason", ""))) for _, d in self.events)

    def rows(self) -> list[journal.RolloutRow]:
        conn = connect(self.project.db_path)
        try:
            return journal.history(conn, "staging", "web", limit=50)
        finally:
            conn.close()

    def fleet_id(self, version: str) -> str:
        return next(f.rollout_id for f in self.runtime.fleets.values() if f.version == version)


def _release(project: Project, version: str, image_id: str) -> None:
    """A build record of web VERSION that passed verification, as `bakery build` + `verify` leave."""
    fp = (version.replace(".", "") * 64)[:64]
    conn = connect(project.db_path)
    try:
        created = f"2026-01-01T00:00:0{version[2]}"
        builds.record(conn, builds.BuildRecord(fp, "web", version, image_id, created))
        verifications.record(conn, verifications.VerificationRecord(
            fp, fingerprint_tag("web", fp), True, journal.now(), 0.0))
    finally:
        conn.close()


@pytest.fixture
def world(project_copy: Path) -> World:
    defn = project_copy / "rollouts" / "staging" / "web.yaml"
    defn.write_text(defn.read_text().replace("pause: 5s", "pause: 10ms").replace("probes: 40", "probes: 20"))
    project = Project(project_copy)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        _release(project, version, f"img-web-{version}")
    runtime = FakeRuntime()
    return World(project, runtime, FakeBalancer(runtime), FakeLock(), [])


def live_version(w: World) -> str | None:
    live = w.status()["live"]
    return live["version"] if live else None


# -- the forward paths ------------------------------------------------------------------------------
def test_first_rollout_goes_live_and_a_second_is_a_noop(world):
    first = world.rollout("1.0.0")
    assert first.status == "succeeded" and live_version(world) == "1.0.0"
    assert world.lb.weight_of("blue") == 200 and world.lb.weight_of("green") == 0
    again = world.rollout("1.0.0")
    assert again.status == "noop" and "already live" in again.reason


def test_swap_keeps_blue_untouched_and_never_leaves_traffic_nowhere(world):
    world.rollout("1.0.0")
    blue = world.fleet_id("1.0.0")
    outcome = world.rollout("1.1.0")
    assert outcome.status == "succeeded"
    st = world.status()
    assert st["live"]["version"] == "1.1.0" and st["standby"]["version"] == "1.0.0"
    assert world.runtime.touched(blue) == ["start_fleet"]  # invariant 1
    assert world.lb.outages == []
    assert [r.status for r in world.rows()] == ["succeeded", "succeeded"]


def test_canary_pass_judges_each_step_then_promotes(world):
    world.rollout("1.0.0")
    outcome = world.rollout("1.1.0", canary=True)
    assert outcome.status == "succeeded"
    assert [(v["weight"], v["outcome"]) for v in outcome.verdicts] == [(10, "pass"), (50, "pass")]
    assert live_version(world) == "1.1.0" and world.lb.outages == []


def test_canary_fail_puts_all_traffic_back_on_blue_and_removes_green(world):
    world.rollout("1.0.0")
    world.runtime.bad_images.add("img-web-1.1.0")
    outcome = world.rollout("1.1.0", canary=True)
    assert outcome.status == "failed" and "canary analysis at step 1" in outcome.reason
    assert live_version(world) == "1.0.0" and world.lb.weight_of("green") == 0
    assert [f.version for f in world.runtime.fleets.values()] == ["1.0.0"]
    assert world.lb.outages == []


def test_unhealthy_green_never_gets_weight(world):
    world.rollout("1.0.0")
    world.runtime.unhealthy_images.add("img-web-1.1.0")
    outcome = world.rollout("1.1.0", canary=True)
    assert outcome.status == "failed" and "green fleet (1.1.0) is not healthy" in outcome.reason
    given = [c for c in world.lb.commands if c.startswith("set weight app/green") and not c.endswith(" 0")]
    assert given == []
    assert [f.version for f in world.runtime.fleets.values()] == ["1.0.0"]


# -- bringing a fleet back ----------------------------------------------------------------------------
def test_rollback_returns_to_the_kept_fleet_without_touching_it(world):
    world.rollout("1.0.0")
    world.rollout("1.1.0")
    kept = world.fleet_id("1.0.0")
    outcome = world.rollback()
    assert outcome.status == "succeeded" and outcome.reason == "1.1.0 -> 1.0.0"
    st = world.status()
    assert st["live"]["version"] == "1.0.0" and st["standby"]["version"] == "1.1.0"
    assert world.runtime.touched(kept) == ["start_fleet"]  # invariant 5
    assert world.lb.outages == []
    assert world.rows()[0].kind == "rollback" and world.rows()[0].status == "succeeded"


def test_rollback_to_a_stopped_standby_starts_it_first(world):
    world.rollout("1.0.0")
    world.rollout("1.1.0")
    kept = world.fleet_id("1.0.0")
    world.runtime.stop_fleet(world.runtime.fleets[kept])
    assert world.rollback().status == "succeeded"
    assert world.runtime.touched(kept) == ["start_fleet", "stop_fleet", "start_stopped"]
    assert live_version(world) == "1.0.0"


def test_rollback_with_nothing_kept_says_why_and_changes_nothing(world):
    world.rollout("1.0.0")
    before = list(world.lb.commands)
    with pytest.raises(RolloutError, match="nothing to roll back to|no previous"):
        world.rollback()
    assert world.lb.commands == before


def test_a_restarted_balancer_gets_the_live_fleet_back_through_the_same_path(world):
    world.rollout("1.0.0")
    world.rollout("1.1.0")
    world.lb.restart()
    assert world.status()["live"] is None and world.status()["detached"]["version"] == "1.1.0"
    outcome = world.rollout("1.1.0")
    assert outcome.status == "noop" and live_version(world) == "1.1.0"
    assert "putting it back in rotation" in world.texts()
    reattached = world.rows()[0]
    assert reattached.kind == "reattach" and reattached.status == "succeeded"


# -- faults ---------------------------------------------------------------------------------------------
def test_a_lock_lost_mid_run_stops_without_unwinding_and_the_next_run_recovers(world):
    world.rollout("1.0.0")
    world.lock.lose_after = 3
    with pytest.raises(LockError, match="taken over"):
        world.rollout("1.1.0", canary=True)
    assert world.rows()[0].status == "running"  # the run that took over decides, not the frozen one
    world.lock.lose_after, world.lock.checks = None, 0
    assert world.rollout("1.1.0").status == "succeeded"
    assert [r.status for r in world.rows()] == ["succeeded", "unwound", "succeeded"]
    assert live_version(world) == "1.1.0" and world.lb.outages == []


CANARY_STEPS = ["StartGreen", "WaitGreenHealthy", "SetWeights", "Analyse", "SetWeights", "Analyse",
                "SetWeights", "DrainBlue", "RetireOlder", "Finish"]
ROLLBACK_STEPS = ["WaitGreenHealthy", "SetWeights", "DrainBlue", "Finish"]


def steps_of(w: World, rollout_id: str) -> list[str]:
    conn = connect(w.project.db_path)
    try:
        return [s["action"] for s in journal.steps(conn, rollout_id)]
    finally:
        conn.close()


def test_every_step_is_journaled_in_order(world):
    world.rollout("1.0.0")
    canary = world.rollout("1.1.0", canary=True)
    assert steps_of(world, canary.rollout_id) == CANARY_STEPS
    back = world.rollback()
    assert steps_of(world, back.rollout_id) == ROLLBACK_STEPS


@pytest.mark.parametrize("k", range(1, len(CANARY_STEPS) + 1))
def test_a_canary_killed_after_any_step_is_resumed_or_unwound_by_the_next_run(world, k):
    world.rollout("1.0.0")
    blue = world.fleet_id("1.0.0")
    world.crash_at = k
    with pytest.raises(Crash):
        world.rollout("1.1.0", canary=True)
    world.crash_at = None
    assert world.rows()[0].status == "running"
    again = world.rollout("1.1.0", canary=True)
    assert again.status in ("succeeded", "noop")
    assert live_version(world) == "1.1.0"
    assert all(r.status != "running" for r in world.rows())
    assert len(world.runtime.fleets) <= 2 and world.runtime.touched(blue) == ["start_fleet"]
    assert world.lb.outages == []


@pytest.mark.parametrize("k", range(1, len(ROLLBACK_STEPS) + 1))
def test_a_rollback_killed_after_any_step_is_finished_or_redone_by_the_next(world, k):
    world.rollout("1.0.0")
    world.rollout("1.1.0")
    kept = world.fleet_id("1.0.0")
    world.crash_at = k
    with pytest.raises(Crash):
        world.rollback()
    world.crash_at = None
    assert world.rollback().status == "succeeded"
    assert live_version(world) == "1.0.0"
    assert all(r.status != "running" for r in world.rows())
    assert world.runtime.touched(kept) == ["start_fleet"]
    assert world.lb.outages == []


def test_status_names_the_fleet_with_most_traffic_live_during_a_canary(world):
    """Killed at 10%: status says blue is live (not the canary) and offers no half-done rollback."""
    world.rollout("1.0.0")
    world.crash_at = 4  # the first Analyse: green holds 10%
    with pytest.raises(Crash):
        world.rollout("1.1.0", canary=True)
    st = world.status()
    assert world.lb.weight_of("green") > 0
    assert st["live"]["version"] == "1.0.0" and st["standby"] is None


def test_a_clearly_bad_canary_is_stopped_as_soon_as_its_error_budget_is_spent(world):
    """Judged continuously: with 60 probes planned over the pause and the minimum sample at 20,
    a canary whose every answer fails is stopped at the 20th probe, not at the end of its pause."""
    defn = world.project.rollouts_dir / "staging" / "web.yaml"
    defn.write_text(defn.read_text().replace("probes: 20", "probes: 60").replace("pause: 10ms", "pause: 3s"))
    world.rollout("1.0.0")
    world.runtime.bad_images.add("img-web-1.1.0")
    outcome = world.rollout("1.1.0", canary=True)
    assert outcome.status == "failed"
    (verdict,) = outcome.verdicts
    assert verdict["stopped_early"] and verdict["probes"] == 20 and verdict["outcome"] == "fail"
    assert live_version(world) == "1.0.0"


# -- a degraded live fleet ------------------------------------------------------------------------------
def test_a_dead_live_member_is_replaced_from_the_same_image_and_the_rest_untouched(world):
    world.rollout("1.0.0")
    live = world.fleet_id("1.0.0")
    survivor = next(mb.container_id for mb in world.runtime.fleets[live].members if mb.index == 1)
    world.runtime.kill(live, 2)
    outcome = world.rollout("1.0.0")
    assert outcome.status == "succeeded" and "replaced member(s) 2" in outcome.reason
    members = world.runtime.fleets[live].members
    assert [mb.index for mb in members] == [1, 2] and all(mb.status == "running" for mb in members)
    assert survivor in {mb.container_id for mb in members}  # the serving member was not touched
    assert world.lb.weight_of("blue") == 200 and world.lb.outages == []
    assert world.rows()[0].kind == "repair" and world.rows()[0].status == "succeeded"
    assert world.rollout("1.0.0").status == "noop"  # whole again: nothing to do


def test_a_live_fleet_with_every_member_dead_is_brought_back_in_one_run(world):
    world.rollout("1.0.0")
    live = world.fleet_id("1.0.0")
    world.runtime.kill(live, 1)
    world.runtime.kill(live, 2)
    assert world.rollout("1.0.0").status == "succeeded"
    assert world.lb.carrying() and live_version(world) == "1.0.0"


def test_a_repair_whose_new_member_fails_its_health_check_removes_it_and_says_so(world):
    world.rollout("1.0.0")
    live = world.fleet_id("1.0.0")
    world.runtime.kill(live, 2)
    world.runtime.unhealthy_images.add("img-web-1.0.0")
    with pytest.raises(RolloutError, match="not healthy"):
        world.rollout("1.0.0")
    assert [mb.index for mb in world.runtime.fleets[live].members] == [1]
    assert world.rows()[0].kind == "repair" and world.rows()[0].status == "failed"
    assert world.lb.outages == []


def test_a_stopped_balancer_is_reported_plainly_and_brought_back_by_the_next_rollout(world):
    world.rollout("1.0.0")
    world.lb.running = False
    world.lb.restart()
    st = world.status()
    assert st["lb"] == "stopped" and st["live"] is None
    assert world.rollout("1.0.0").status == "noop"
    assert world.status()["lb"] == "running" and live_version(world) == "1.0.0"


def test_an_environment_that_requires_evidence_refuses_an_image_without_it_before_any_change(world):
    defn = world.project.rollouts_dir / "staging" / "web.yaml"
    defn.write_text(defn.read_text() + "requires: {verified: true}\n")
    with pytest.raises(RolloutError, match="requires evidence"):
        world.rollout("1.0.0")
    with pytest.raises(RolloutError, match="requires evidence"):
        service.plan_rollout(world.project, "staging", "web", "1.0.0", ports=world.ports())
    assert world.runtime.calls == [] and world.lb.commands == [] and world.rows() == []
