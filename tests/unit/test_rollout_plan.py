"""--plan output is decided by the same pure inputs the rollout uses."""

from pathlib import Path

from bakery.definitions.rollout import load_rollout
from bakery.rollout.plan import Live, Target, make_plan

REPO = Path(__file__).resolve().parents[2]
DEFN = load_rollout(REPO / "rollouts/staging/web.yaml")
NEW = Target("web", "1.1.0", "b" * 64)
LIVE = Live("1.0.0", "a" * 64, "blue", "r1")


def test_canary_plan():
    plan = make_plan(DEFN, NEW, LIVE, canary=True)
    assert plan.colour == "green" and plan.strategy == "canary" and not plan.noop
    weights = [s.green_weight for s in plan.steps]
    assert weights == [None, 0, 10, 50, 100, 100, 100]
    assert "green weight 10, blue weight 90" in plan.steps[2].what
    assert plan.expected_seconds >= 10  # two 5s pauses
    assert "bakery rollback web --env staging" in plan.rollback
    assert plan.as_dict()["expected_seconds"] == round(plan.expected_seconds, 1)


def test_blue_green_plan():
    plan = make_plan(DEFN, NEW, LIVE, canary=False)
    assert [s.green_weight for s in plan.steps] == [None, 0, 100, 100, 100]
    assert any("drain blue" in s.what for s in plan.steps)


def test_first_rollout_has_no_canary():
    plan = make_plan(DEFN, NEW, None, canary=True)
    assert plan.colour == "blue" and plan.strategy == "blue-green"
    assert any("first rollout" in n for n in plan.notes)


def test_same_image_is_a_noop():
    plan = make_plan(DEFN, Target("web", "1.0.0", "a" * 64), LIVE, canary=True)
    assert plan.noop and plan.steps == []


def test_a_kept_previous_fleet_is_named_as_replaced():
    plan = make_plan(DEFN, NEW, LIVE, canary=True, standby=Live("0.9.0", "c" * 64, "green", "r0"))
    assert any("previous fleet green (0.9.0) is removed first" in n for n in plan.notes)
    assert not any("previous fleet" in n for n in make_plan(DEFN, NEW, LIVE, canary=True).notes)


def _row(rid, kind, status, version, prev_version=None, colour="green"):
    from bakery.store.journal import RolloutRow

    return RolloutRow(rid, "staging", "web", kind, kind, "web-bad" if status != "succeeded" else "web",
                      version, "f" * 64, colour, None, prev_version, None, status, "t", None, "")


def test_no_rollback_target_after_a_failed_rollout_names_it_and_the_way_back():
    from bakery.rollout.plan import no_rollback_target

    history = [_row("r3", "rollout", "failed", "1.0.0"), _row("r2", "rollout", "succeeded", "1.1.0", "1.0.0")]
    text = no_rollback_target("web", "staging", "1.1.0", history, 1800)
    assert "the failed rollout r3 of web-bad 1.0.0 took its green slots and removed it" in text
    assert "`bakery rollout web --env staging --image 1.0.0`" in text


def test_no_rollback_target_first_fleet_and_expired_window():
    from bakery.rollout.plan import no_rollback_target

    only = no_rollback_target("web", "staging", "1.0.0", [_row("r1", "rollout", "succeeded", "1.0.0")], 1800)
    assert "only one fleet" in only
    expired = no_rollback_target("web", "staging", "1.1.0",
                                 [_row("r2", "rollout", "succeeded", "1.1.0", "1.0.0")], 1800)
    assert "rollback window is 30m" in expired and "--image 1.0.0" in expired
