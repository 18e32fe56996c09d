"""Which fleet goes back in rotation after HAProxy lost its runtime state: data cases."""

from bakery.rollout.fleet import Fleet, Member
from bakery.rollout.reattach import expected_live
from bakery.store.journal import RolloutRow


def fleet(rid, colour, fp, created):
    return Fleet(rid, colour, "web", fp, "fp-" + fp, created,
                 [Member(f"c-{rid}", f"{colour}1", 1, "running", "healthy", "10.0.0.1")])


def row(rid, kind, colour, fp, status="succeeded", prev_id=None):
    return RolloutRow(rid, "staging", "web", kind, kind, "web", fp, "fp-" + fp, colour, prev_id, None, None,
                      status, "2026-01-01T00:00:00.000000Z", None, "")


A = fleet("r1", "blue", "1.0", "t1")
B = fleet("r2", "green", "1.1", "t2")


TWO_ROLLOUTS = [row("r2", "rollout", "green", "1.1"), row("r1", "rollout", "blue", "1.0")]


def test_the_last_successful_rollout_is_live():
    assert expected_live([A, B], TWO_ROLLOUTS) is B


def test_failed_and_unwound_rollouts_and_reattaches_do_not_count():
    history = [row("r9", "rollout", "blue", "9.9", status="failed"), row("rx", "reattach", "green", "1.1"),
               row("r8", "rollout", "blue", "9.8", status="unwound"), row("r1", "rollout", "blue", "1.0")]
    assert expected_live([A], history) is A


def test_a_rollback_makes_the_earlier_fleet_live():
    history = [row("rb", "rollback", "blue", "1.0", prev_id="r2"), row("r2", "rollout", "green", "1.1"),
               row("r1", "rollout", "blue", "1.0")]
    assert expected_live([A, B], history) is A


def test_a_gone_fleet_is_not_guessed_at():
    assert expected_live([A], TWO_ROLLOUTS) is None


def test_without_a_journal_only_a_single_fleet_is_a_candidate():
    assert expected_live([A], []) is A
    assert expected_live([A, B], []) is None
    assert expected_live([], []) is None
