"""Which fleet goes back in rotation after HAProxy lost its runtime state: data cases."""

from bakery.model.fleet import Fleet, Member
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


def finished(r, at):
    from dataclasses import replace

    return replace(r, finished=at)


def test_the_rollback_window_opens_when_the_live_fleet_became_live():
    from datetime import UTC, datetime

    from bakery.rollout.reattach import standby_expired

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    old_rollout = finished(row("r1", "rollout", "blue", "1.0"), "2026-01-01T09:00:00.000000Z")
    newer = finished(row("r2", "rollout", "green", "1.1"), "2026-01-01T10:00:00.000000Z")
    rollback = finished(row("rb", "rollback", "blue", "1.0", prev_id="r2"), "2026-01-01T11:55:00.000000Z")
    # A was rolled out 3h ago but went live again 5 minutes ago: B's 30m window is still open.
    assert not standby_expired(A, [rollback, newer, old_rollout], now, 1800)
    assert standby_expired(A, [rollback, newer, old_rollout], now, 60)
    assert standby_expired(B, [newer, old_rollout], now, 1800)
    # The journal does not say how A became live: remove nothing.
    assert not standby_expired(A, [newer, old_rollout], now, 60)
