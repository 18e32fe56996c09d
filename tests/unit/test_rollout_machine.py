"""The rollout state machine, as data cases: events in, phases and actions out."""

import pytest

from bakery.rollout import machine as m

CANARY = (m.CanaryPlanStep(10, 1.0), m.CanaryPlanStep(50, 2.0))


def run(state, events):
    """Feed events from Begin; collect (phase, [action names]) after each."""
    trace = []
    state, actions = m.transition(state, m.Begin())
    trace.append((state.phase, [type(a).__name__ for a in actions]))
    for event in events:
        state, actions = m.transition(state, event)
        trace.append((state.phase, [type(a).__name__ for a in actions]))
    return state, trace


CASES = {
    "first rollout goes all-in even when a canary was asked": (
        m.initial(False, CANARY),
        [m.GreenHealthy(), m.WeightsSet(100)],
        [("starting", ["StartGreen", "WaitGreenHealthy"]), ("promoting", ["SetWeights"]),
         ("succeeded", ["RetireOlder", "Finish"])],
        "succeeded",
    ),
    "blue/green swap": (
        m.initial(True),
        [m.GreenHealthy(), m.WeightsSet(100), m.Drained()],
        [("starting", ["StartGreen", "WaitGreenHealthy"]), ("promoting", ["SetWeights"]),
         ("draining", ["DrainBlue"]), ("succeeded", ["RetireOlder", "Finish"])],
        "succeeded",
    ),
    "canary passes both steps": (
        m.initial(True, CANARY),
        [m.GreenHealthy(), m.Verdict("pass", "ok"), m.Verdict("pass", "ok"), m.WeightsSet(100), m.Drained()],
        [("starting", ["StartGreen", "WaitGreenHealthy"]), ("canary", ["SetWeights", "Analyse"]),
         ("canary", ["SetWeights", "Analyse"]), ("promoting", ["SetWeights"]),
         ("draining", ["DrainBlue"]), ("succeeded", ["RetireOlder", "Finish"])],
        "succeeded",
    ),
    "canary fails at step 2: weight back to blue": (
        m.initial(True, CANARY),
        [m.GreenHealthy(), m.Verdict("pass", "ok"), m.Verdict("fail", "5xx")],
        [("starting", ["StartGreen", "WaitGreenHealthy"]), ("canary", ["SetWeights", "Analyse"]),
         ("canary", ["SetWeights", "Analyse"]), ("failed", ["RestoreBlue", "RemoveGreen", "Finish"])],
        "failed",
    ),
    "inconclusive is never a pass": (
        m.initial(True, CANARY),
        [m.GreenHealthy(), m.Verdict("inconclusive", "3 samples")],
        [("starting", ["StartGreen", "WaitGreenHealthy"]), ("canary", ["SetWeights", "Analyse"]),
         ("failed", ["RestoreBlue", "RemoveGreen", "Finish"])],
        "failed",
    ),
    "unhealthy green never gets weight": (
        m.initial(True, CANARY),
        [m.GreenUnhealthy("health log")],
        [("starting", ["StartGreen", "WaitGreenHealthy"]), ("failed", ["RemoveGreen", "Finish"])],
        "failed",
    ),
    "interrupted mid-canary unwinds": (
        m.initial(True, CANARY),
        [m.GreenHealthy(), m.Abort("interrupted")],
        [("starting", ["StartGreen", "WaitGreenHealthy"]), ("canary", ["SetWeights", "Analyse"]),
         ("failed", ["RestoreBlue", "RemoveGreen", "Finish"])],
        "failed",
    ),
    "interrupted while draining keeps the swap": (
        m.initial(True),
        [m.GreenHealthy(), m.WeightsSet(100), m.Abort("interrupted")],
        [("starting", ["StartGreen", "WaitGreenHealthy"]), ("promoting", ["SetWeights"]),
         ("draining", ["DrainBlue"]), ("succeeded", ["RetireOlder", "Finish"])],
        "succeeded",
    ),
    "rollback to a running standby keeps the fleet it leaves": (
        m.bring_back("rollback", has_blue=True, stopped=False),
        [m.GreenHealthy(), m.WeightsSet(100), m.Drained()],
        [("starting", ["WaitGreenHealthy"]), ("promoting", ["SetWeights"]), ("draining", ["DrainBlue"]),
         ("succeeded", ["Finish"])],
        "succeeded",
    ),
    "rollback to a stopped standby starts it first": (
        m.bring_back("rollback", has_blue=True, stopped=True),
        [m.GreenHealthy(), m.WeightsSet(100), m.Drained()],
        [("starting", ["StartStopped", "WaitGreenHealthy"]), ("promoting", ["SetWeights"]),
         ("draining", ["DrainBlue"]), ("succeeded", ["Finish"])],
        "succeeded",
    ),
    "a rollback whose target is unhealthy removes nothing": (
        m.bring_back("rollback", has_blue=True, stopped=True),
        [m.GreenUnhealthy("health log")],
        [("starting", ["StartStopped", "WaitGreenHealthy"]), ("failed", ["Finish"])],
        "failed",
    ),
    "a rollback interrupted while draining cuts the drain short": (
        m.bring_back("rollback", has_blue=True, stopped=False),
        [m.GreenHealthy(), m.WeightsSet(100), m.Abort("interrupted")],
        [("starting", ["WaitGreenHealthy"]), ("promoting", ["SetWeights"]), ("draining", ["DrainBlue"]),
         ("succeeded", ["CutDrain", "Finish"])],
        "succeeded",
    ),
    "reattach puts the live fleet back with nothing to drain": (
        m.bring_back("reattach", has_blue=False, stopped=False),
        [m.GreenHealthy(), m.WeightsSet(100)],
        [("starting", ["WaitGreenHealthy"]), ("promoting", ["SetWeights"]), ("succeeded", ["Finish"])],
        "succeeded",
    ),
    "repair replaces dead members and rejoins them": (
        m.repair((2,)),
        [m.GreenHealthy()],
        [("starting", ["ReplaceMembers", "WaitGreenHealthy"]), ("succeeded", ["Rejoin", "Finish"])],
        "succeeded",
    ),
    "a failed repair drops only its new members": (
        m.repair((2,)),
        [m.GreenUnhealthy("health log")],
        [("starting", ["ReplaceMembers", "WaitGreenHealthy"]), ("failed", ["DropMembers", "Finish"])],
        "failed",
    ),
}


def test_a_rollback_keeps_the_fleet_it_leaves_at_full_weight_until_its_drain():
    state, _ = m.transition(m.bring_back("rollback", has_blue=True, stopped=False), m.Begin())
    _, actions = m.transition(state, m.GreenHealthy())
    assert actions == [m.SetWeights(100, release_blue=False)]


@pytest.mark.parametrize("kind, green, blue, decision, actions", [
    ("rollout", 200, 0, "promote", ["DrainBlue", "Finish"]),
    ("rollout", 20, 180, "unwind", ["RestoreBlue", "RemoveGreen", "Finish"]),
    ("rollback", 200, 200, "promote", ["DrainBlue", "Finish"]),
    ("rollback", 0, 200, "unwind", ["ReleaseGreen", "Finish"]),
    ("reattach", 200, 0, "promote", ["Finish"]),
    ("repair", 200, 0, "unwind", ["Finish"]),
])
def test_recovery_of_each_kind_of_run(kind, green, blue, decision, actions):
    got, steps = m.recover(kind, green, blue, green_running=True, blue_running=True)
    assert (got, [type(a).__name__ for a in steps]) == (decision, actions)


@pytest.mark.parametrize("name", list(CASES))
def test_cases(name):
    start, events, expected, final = CASES[name]
    state, trace = run(start, events)
    assert trace == expected
    assert state.phase == final and state.done


def test_weights_follow_the_steps():
    state, actions = m.transition(m.initial(True, CANARY), m.Begin())
    state, actions = m.transition(state, m.GreenHealthy())
    assert actions[0] == m.SetWeights(10) and actions[1] == m.Analyse(0, 10, 1.0)
    state, actions = m.transition(state, m.Verdict("pass", ""))
    assert actions[0] == m.SetWeights(50) and actions[1] == m.Analyse(1, 50, 2.0)
    state, actions = m.transition(state, m.Verdict("pass", ""))
    assert actions == [m.SetWeights(100)]


def test_failure_reason_names_the_step():
    state, _ = m.transition(m.initial(True, CANARY), m.Begin())
    state, _ = m.transition(state, m.GreenHealthy())
    state, actions = m.transition(state, m.Verdict("fail", "error rate 30% > 1%"))
    assert "step 1 (10%)" in state.reason and "error rate 30%" in state.reason
    assert actions[-1] == m.Finish("failed", state.reason)


@pytest.mark.parametrize("state, event", [
    (m.State(phase="new"), m.Drained()),
    (m.State(phase="starting"), m.Verdict("pass", "")),
    (m.State(phase="succeeded"), m.Begin()),
])
def test_unexpected_events_are_errors(state, event):
    with pytest.raises(ValueError):
        m.transition(state, event)


@pytest.mark.parametrize("green, blue, running, decision", [
    (200, 0, True, "promote"),
    (20, 180, True, "unwind"),
    (0, 200, True, "unwind"),
    (200, 0, False, "unwind"),
])
def test_recovery_trusts_what_runs(green, blue, running, decision):
    assert m.recovery(green, blue, running) == decision


@pytest.mark.parametrize("target, source, decision", [
    (200, 0, "promote"),    # killed after the drain began: finish it
    (200, 200, "promote"),  # killed between the weight change and the drain: both at full weight
    (0, 200, "unwind"),     # killed before the weight change: nothing moved
    (0, 0, "unwind"),       # nothing in rotation (LB restarted): re-attach will see to it
])
def test_rollback_recovery_finishes_once_the_target_had_weight(target, source, decision):
    """A rollback only gives its target weight after HAProxy checked it UP, so weight there
    means the rollback's intent was under way; leaving both colours at full weight is a state
    no later command could get out of."""
    assert m.recovery_rollback(target, source) == decision
