"""--plan output is decided by the same pure inputs the executor uses."""

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
