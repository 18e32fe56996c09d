"""What a rollout's events become as messages: a failing canary says start, each verdict, the
rollback and the failure, each with the rollout id and the report's path."""

from __future__ import annotations

from bakery.notify import Conversation

FAILING_CANARY = [
    ("info", {"text": "starting"}),
    ("start", {"rollout_id": "r9", "colour": "green", "version": "web-bad 1.0.0", "strategy": "canary",
               "live": "1.0.0"}),
    ("phase", {"phase": "green-starting", "step": -1}),
    ("weights", {"green_percent": 10, "colour": "green", "per_server": {"green": 20, "blue": 180}}),
    ("tick", {"step": 1, "weight": 10, "probes": 3, "probe_errors": 1, "servers": []}),
    ("verdict", {"step": 1, "weight": 10, "outcome": "fail", "summary": "error rate 30.00% > 1.00%"}),
    ("weights", {"green_percent": 0, "colour": "green", "per_server": {"green": 0, "blue": 100}}),
    ("done", {"status": "failed", "reason": "canary analysis failed at step 1"}),
]


def test_a_failing_canary_tells_each_event_once() -> None:
    talk = Conversation("staging", "web", report="/p/.bakery/reports/{rollout_id}.html")
    said = [m for kind, data in FAILING_CANARY if (m := talk.feed(kind, data)) is not None]
    assert [m.event for m in said] == ["start", "verdict", "rollback", "failure"]
    assert [m.level for m in said] == ["info", "failure", "warning", "failure"]
    assert said[0].title == "bakery: web@staging canary of web-bad 1.0.0 started"
    assert said[1].title == "bakery: web@staging canary step 1 (10%): fail"
    assert "error rate 30.00% > 1.00%" in said[1].body
    assert said[2].title == "bakery: web@staging rolled back to 1.0.0"
    assert "canary analysis failed at step 1" in said[3].body
    for m in said:
        assert "rollout r9" in m.body and "report: /p/.bakery/reports/r9.html" in m.body
        assert "bakery report r9 --env staging" in m.body


def test_events_can_be_chosen_and_a_rollback_command_is_its_own_kind() -> None:
    talk = Conversation("prod", "api", events=("failure", "rollback"))
    said = [talk.feed(k, d) for k, d in FAILING_CANARY]
    assert [m.event for m in said if m] == ["rollback", "failure"]

    back = Conversation("prod", "api")
    first = back.feed("start", {"rollout_id": "r10", "version": "1.0.0", "strategy": "rollback",
                                "live": "1.1.0", "colour": "blue"})
    assert first is not None and first.event == "rollback" and "from 1.1.0 to 1.0.0" in first.body
    assert back.feed("weights", {"green_percent": 100, "colour": "blue"}) is None
    done = back.feed("done", {"status": "succeeded", "reason": "rolled back from 1.1.0 to 1.0.0"})
    assert done is not None and done.title == "bakery: api@prod rollback of 1.0.0 succeeded"


def test_nothing_is_said_before_the_rollout_starts() -> None:
    talk = Conversation("staging", "web")
    assert talk.feed("done", {"status": "noop"}) is None
    assert talk.feed("verdict", {"outcome": "pass"}) is None


def test_the_end_is_told_once() -> None:
    talk = Conversation("staging", "web")
    talk.feed(*FAILING_CANARY[1])
    assert talk.feed("done", {"status": "failed", "reason": "x"}) is not None
    assert talk.feed("done", {"status": "failed", "reason": "raised after done"}) is None
