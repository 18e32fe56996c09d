"""Send rollout messages to apprise targets in the background, so a target that is down never
fails or slows a rollout.

Each target has its own thread and queue: a dead webhook holds up only its own messages. Every
send is bounded by the target's connect/read timeouts (apprise's ``cto``/``rto``, set to the
notify timeout unless the URL sets them). When the rollout ends, ``close`` waits at most one
timeout for what is still queued; what has not gone by then is dropped and logged.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bakery.definitions.rollout import NotifySpec
from bakery.errors import UsageError
from bakery.notify.messages import EVENTS, Conversation, Message

log = logging.getLogger(__name__)

Sink = Callable[[str, dict[str, Any]], None]
QUEUE_LIMIT = 100


def with_timeouts(url: str, timeout: float) -> str:
    """The URL with apprise's connect and read timeouts, unless it sets its own."""
    query = dict(parse_qsl(urlsplit(url).query))
    extra = [f"{k}={timeout:g}" for k in ("cto", "rto") if k not in query]
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


def resolve(spec: NotifySpec, environ: Mapping[str, str] | None = None) -> list[str]:
    """The target URLs: literal ones and those held in secrets. A missing secret value stops the
    rollout before it changes anything, like any other missing secret."""
    environ = os.environ if environ is None else environ
    missing = [n for n in spec.url_secrets if f"BAKERY_SECRET_{n}" not in environ]
    if missing:
        raise UsageError("notify.url_secrets: no value for " + ", ".join(missing) + "; set "
                         + ", ".join(f"BAKERY_SECRET_{n}" for n in missing) + " in the environment")
    return [*spec.urls, *(environ[f"BAKERY_SECRET_{n}"] for n in spec.url_secrets)]


#: Schemes whose host is a host; for most others (slack://TokenA/..., tgram://bot-token/...) the
#: "host" part of the URL is itself a token.
PLAIN_HOSTS = ("json", "jsons", "xml", "xmls", "form", "forms")


def redact(url: str) -> str:
    """A target as it may appear in a log line: its scheme (and host for webhooks), no tokens."""
    parts = urlsplit(url)
    host = parts.hostname if parts.scheme in PLAIN_HOSTS and parts.hostname else "…"
    port = f":{parts.port}" if host != "…" and parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


@dataclass
class Delivery:
    """What happened to one message at one target (kept for `--json` output and tests)."""

    target: str
    event: str
    ok: bool
    seconds: float
    error: str = ""


@dataclass
class _Target:
    url: str
    queue: queue.Queue[Message | None] = field(default_factory=lambda: queue.Queue(QUEUE_LIMIT))
    thread: threading.Thread | None = None


class Notifier:
    """Turns a rollout's events into messages and sends them, one background thread per target."""

    def __init__(self, urls: list[str], env: str, service: str, report: str = "",
                 events: tuple[str, ...] | None = None, timeout: float = 5.0):
        # apprise is imported only when a rollout has targets; a plain `bakery` command never pays it
        import apprise

        self.timeout = timeout
        self.conversation = Conversation(env, service, report, events or EVENTS)
        self.deliveries: list[Delivery] = []
        self.dropped: list[tuple[str, str]] = []  # (target, event) never sent
        self._lock = threading.Lock()
        self._targets: list[_Target] = []
        self._apprise = apprise
        for url in urls:
            target = _Target(with_timeouts(url, timeout))
            if self._apprise.Apprise.instantiate(target.url) is None:
                raise UsageError(f"notify: {redact(url)} is not a URL apprise knows; see "
                                 "https://github.com/caronc/apprise/wiki")
            target.thread = threading.Thread(target=self._run, args=(target,), daemon=True,
                                             name=f"notify-{redact(url)}")
            target.thread.start()
            self._targets.append(target)

    def wrap(self, sink: Sink | None = None) -> Sink:
        def notified(kind: str, data: dict[str, Any]) -> None:
            self.on_event(kind, data)
            if sink is not None:
                sink(kind, data)
        return notified

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """Queue the message for this event, if any; never blocks, never raises."""
        try:
            message = self.conversation.feed(kind, data)
        except Exception as exc:  # noqa: BLE001 - a notification must never stop a rollout
            log.warning("notify: no message for a %s event: %s", kind, exc)
            return
        if message is None:
            return
        for target in self._targets:
            try:
                target.queue.put_nowait(message)
            except queue.Full:
                self._drop(target, message.event, "its queue is full")

    def _drop(self, target: _Target, event: str, why: str) -> None:
        with self._lock:
            self.dropped.append((redact(target.url), event))
        log.warning("notify: %s message to %s dropped: %s", event, redact(target.url), why)

    def _run(self, target: _Target) -> None:
        while True:
            message = target.queue.get()
            if message is None:
                return
            started = time.monotonic()
            error = ""
            try:
                ap = self._apprise.Apprise()
                ap.add(target.url)
                ok = bool(ap.notify(body=message.body, title=message.title,
                                    notify_type=self._apprise.NotifyType(message.level)))
                if not ok:
                    error = "the target refused it or did not answer in time"
            except Exception as exc:  # noqa: BLE001 - any failure is logged, never raised
                ok, error = False, str(exc)
            seconds = time.monotonic() - started
            with self._lock:
                self.deliveries.append(Delivery(redact(target.url), message.event, ok, seconds, error))
            if not ok:
                log.warning("notify: %s message to %s failed: %s", message.event, redact(target.url), error)

    def close(self) -> None:
        """Let queued messages go for at most one timeout in all, then give up on the rest."""
        deadline = time.monotonic() + self.timeout
        for target in self._targets:
            try:
                target.queue.put_nowait(None)
            except queue.Full:
                pass
        for target in self._targets:
            assert target.thread is not None
            target.thread.join(max(0.0, deadline - time.monotonic()))
            if target.thread.is_alive():
                # A send is still in flight (bounded by its own timeout, in a daemon thread):
                # the messages still queued behind it will not be sent.
                while True:
                    try:
                        left = target.queue.get_nowait()
                    except queue.Empty:
                        break
                    if left is not None:
                        self._drop(target, left.event, f"not sent within {self.timeout:g}s of the end")
                target.queue.put_nowait(None)  # the thread ends once its send in flight returns

    @property
    def pending(self) -> bool:
        return any(t.thread is not None and t.thread.is_alive() for t in self._targets)


@contextmanager
def notifying(spec: NotifySpec, env: str, service: str, report: str = "",
              environ: Mapping[str, str] | None = None) -> Iterator[Notifier | None]:
    """A notifier for the rollout run inside the block (None when the definition names no
    targets); at its end, queued messages get at most ``spec.timeout`` to go."""
    urls = resolve(spec, environ)
    if not urls:
        yield None
        return
    notifier = Notifier(urls, env, service, report, spec.events, spec.timeout)
    try:
        yield notifier
    except BaseException as exc:
        # A rollout that stopped with an exception sends no done event: the failure is still news.
        notifier.on_event("done", {"status": "failed", "reason": str(exc) or type(exc).__name__})
        raise
    finally:
        notifier.close()
