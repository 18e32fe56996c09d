"""`start_timeout` covers the whole start: what the members' creation took is not given again to
the health wait and HAProxy's check (a fleet of 100 takes a while to create). Fake ports, a fake
clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.definitions.rollout import load_rollout
from bakery.engine.scope import Scope
from bakery.rollout import driver as driver_module
from bakery.rollout import machine as m
from bakery.rollout import traffic
from bakery.rollout.driver import MIN_WAIT, Driver, Run
from bakery.rollout.ports import FleetSpec
from tests.fakes import FakeBalancer, FakeRuntime

REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlowRuntime(FakeRuntime):
    """Creating the members takes ``start_seconds`` on the clock; the waits record their budget."""

    def __init__(self, clock: Clock, start_seconds: float):
        super().__init__()
        self.clock, self.start_seconds = clock, start_seconds
        self.budgets: list[float] = []

    def start_fleet(self, scope, spec):  # noqa: ANN001
        self.clock.now += self.start_seconds
        return super().start_fleet(scope, spec)

    def wait_healthy(self, scope, rollout_id, timeout):  # noqa: ANN001
        self.budgets.append(timeout)
        return super().wait_healthy(scope, rollout_id, timeout)


def running_lb(runtime: FakeRuntime) -> FakeBalancer:
    lb = FakeBalancer(runtime)
    lb.ensure("img-lb")
    return lb


class Journal:
    def step(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("start_seconds, left", [(45.0, 15.0), (75.0, MIN_WAIT)])
def test_the_wait_gets_what_the_start_left_of_start_timeout(tmp_path, monkeypatch, start_seconds, left):
    clock = Clock()
    monkeypatch.setattr(driver_module.time, "monotonic", clock)
    waits: list[float] = []
    monkeypatch.setattr(traffic, "wait_up", lambda lb, colour, indexes, timeout: waits.append(timeout))
    defn = load_rollout(REPO / "rollouts" / "staging" / "web.yaml")  # start_timeout: 60s
    runtime = SlowRuntime(clock, start_seconds)
    scope = Scope(tmp_path, tmp_path / ".bakery", "staging", "web")
    drv = Driver(scope, defn, runtime, running_lb(runtime), Journal(), lambda *a: None)
    spec = FleetSpec("img", "web", "1.0.0", "f" * 64, "blue", "r1", 2, 8080, 0.5, 2.0, 2)
    run = Run("r1", "blue", spec=spec)
    drv.perform(run, m.StartGreen())
    assert isinstance(drv.perform(run, m.WaitGreenHealthy()), m.GreenHealthy)
    assert runtime.budgets == [left] and waits == [left]


def test_a_run_resumed_after_a_crash_gets_the_whole_budget(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(driver_module.time, "monotonic", clock)
    monkeypatch.setattr(traffic, "wait_up", lambda lb, colour, indexes, timeout: None)
    defn = load_rollout(REPO / "rollouts" / "staging" / "web.yaml")
    runtime = SlowRuntime(clock, 45.0)
    scope = Scope(tmp_path, tmp_path / ".bakery", "staging", "web")
    drv = Driver(scope, defn, runtime, running_lb(runtime), Journal(), lambda *a: None)
    spec = FleetSpec("img", "web", "1.0.0", "f" * 64, "blue", "r1", 2, 8080, 0.5, 2.0, 2)
    Driver(scope, defn, runtime, running_lb(runtime), Journal(), lambda *a: None).perform(
        Run("r1", "blue", spec=spec), m.StartGreen())
    resumed = Run("r1", "blue", spec=spec)  # a new process: it cannot know when the members started
    assert isinstance(drv.perform(resumed, m.WaitGreenHealthy()), m.GreenHealthy)
    assert runtime.budgets == [defn.health.start_timeout]
