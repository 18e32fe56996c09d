"""The notifier: real apprise posts to a local receiver; a target that hangs holds up only its own
thread, never the caller, and the end of the rollout waits for it at most one timeout."""

from __future__ import annotations

import threading

import pytest

from bakery.definitions.rollout import NotifySpec
from bakery.errors import UsageError
from bakery.notify import Notifier, notifying, resolve
from bakery.notify.notifier import redact, with_timeouts
from tests.notify_support import Hanging, Receiver
from tests.unit.test_notify_messages import FAILING_CANARY


def test_every_message_reaches_a_live_target_as_apprise_json() -> None:
    with Receiver() as receiver:
        spec = NotifySpec(urls=(receiver.url,), timeout=5.0)
        with notifying(spec, "staging", "web", report="/r/{rollout_id}.html") as notifier:
            assert notifier is not None
            sink = notifier.wrap()
            for kind, data in FAILING_CANARY:
                sink(kind, data)
        got = receiver.wait_for(4)
    assert [p["type"] for p in got] == ["info", "failure", "warning", "failure"]
    assert [p["title"].split(" ", 2)[2] for p in got] == [
        "canary of web-bad 1.0.0 started", "canary step 1 (10%): fail", "rolled back to 1.0.0",
        "canary of web-bad 1.0.0 failed"]
    assert all("/r/r9.html" in p["message"] for p in got)
    assert all(d.ok for d in notifier.deliveries) and not notifier.dropped


def test_a_hanging_target_never_blocks_the_caller_and_is_abandoned_at_close() -> None:
    with Receiver() as receiver, Hanging() as dead:
        dead_name = redact(dead.url)
        notifier = Notifier([dead.url, receiver.url], "staging", "web", timeout=0.5)
        caller = threading.current_thread()
        for kind, data in FAILING_CANARY:
            notifier.on_event(kind, data)
            assert threading.current_thread() is caller
        # Every event was handed over while the dead target had not answered its first message.
        assert dead.first.wait(10)
        got = receiver.wait_for(4)
        assert len(got) == 4  # the live target is not held up behind the dead one
        notifier.close()
    # Four messages to a target that answers none, each send bounded by 0.5 s, and close() waits
    # 0.5 s in all: what is still queued then is dropped (and logged), not waited for.
    assert [t for t, _ in notifier.dropped] and {t for t, _ in notifier.dropped} == {dead_name}
    assert not any(d.ok for d in notifier.deliveries if d.target == dead_name)
    assert all(d.ok for d in notifier.deliveries if d.target != dead_name)


def test_urls_from_secrets_and_timeouts() -> None:
    spec = NotifySpec(urls=("json://hooks.local/a",), url_secrets=("SLACK_URL",))
    assert resolve(spec, {"BAKERY_SECRET_SLACK_URL": "slack://x/y/z"}) == ["json://hooks.local/a",
                                                                         "slack://x/y/z"]
    with pytest.raises(UsageError, match="BAKERY_SECRET_SLACK_URL"):
        resolve(spec, {})
    assert with_timeouts("json://h/p", 2) == "json://h/p?cto=2&rto=2"
    assert with_timeouts("json://h/p?rto=9", 2) == "json://h/p?rto=9&cto=2"
    assert redact("slack://T1/B2/secret-token") == "slack://…/…"
    assert redact("json://hooks.local:8080/p?x=1") == "json://hooks.local:8080/…"
    with pytest.raises(UsageError, match="not a URL apprise knows"):
        Notifier(["nosuchscheme://x"], "staging", "web")
    with notifying(NotifySpec(), "staging", "web") as nobody:
        assert nobody is None


def test_a_rollout_that_raises_after_its_start_is_told_as_a_failure() -> None:
    with Receiver() as receiver:
        with pytest.raises(RuntimeError), notifying(NotifySpec(urls=(receiver.url,)), "staging",
                                                    "web") as notifier:
            assert notifier is not None
            notifier.on_event(*FAILING_CANARY[1])
            raise RuntimeError("HAProxy refused 'set weight'")
        got = receiver.wait_for(2)
    assert [p["type"] for p in got] == ["info", "failure"]
    assert "HAProxy refused 'set weight'" in got[1]["message"]
