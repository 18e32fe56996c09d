"""Health while a fleet starts, without the engine: bakery probes members over HTTP at their
addresses, many at once, then leaves steady-state health to HAProxy's own checks.

Why: an engine HEALTHCHECK is a process exec'd into every member at every interval, run by
dockerd, containerd and runc. 20 idle members at 500 ms kept 2 cores 86% busy; 100 could not
idle on one machine. A GET from this process costs a socket. The verdict keeps Docker's rules
(``retries`` consecutive failures make a member unhealthy; a first probe before one ``interval``
has passed does not count, as Docker's first check only runs after one), and expects what
HAProxy expects: status 200 on the definition's health path.

``Probes`` is pure bookkeeping (tested without a network); ``http_check`` does the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

PROBE_LABEL = "io.bakery.probe"  # on members: how bakery probes them while they start (JSON)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ProbeSpec:
    path: str
    port: int
    interval: float
    timeout: float
    retries: int
    parallelism: int = 8  # members probed at once

    def label(self) -> str:
        return json.dumps({"path": self.path, "port": self.port, "interval": self.interval,
                           "timeout": self.timeout, "retries": self.retries,
                           "parallelism": self.parallelism}, sort_keys=True)

    @classmethod
    def from_label(cls, text: str | None) -> ProbeSpec | None:
        """None for members started with an engine healthcheck (older fleets, other runtimes)."""
        if not text:
            return None
        try:
            d = json.loads(text)
            return cls(str(d["path"]), int(d["port"]), float(d["interval"]), float(d["timeout"]),
                       int(d["retries"]), int(d.get("parallelism", 8)))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class Probes:
    """Per member: passed, or how many probes failed in a row and what the last one said."""

    retries: int
    interval: float
    passed: set[str] = field(default_factory=set)
    streak: dict[str, int] = field(default_factory=dict)
    last: dict[str, str] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)

    def pending(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n not in self.passed]

    def record(self, name: str, ok: bool, detail: str, now: float) -> None:
        seen = self.first_seen.setdefault(name, now)
        self.last[name] = detail
        if ok:
            self.passed.add(name)
            self.streak.pop(name, None)
        elif now - seen >= self.interval:  # Docker runs its first check one interval after start
            self.streak[name] = self.streak.get(name, 0) + 1

    def unhealthy(self) -> list[str]:
        return sorted(n for n, count in self.streak.items() if count >= self.retries)


def http_check(client: httpx.Client, ip: str, port: int, path: str, timeout: float) -> tuple[bool, str]:
    """One GET; (status 200, what happened in a few words)."""
    if not ip:
        return False, "no address yet"
    try:
        response = client.get(f"http://{ip}:{port}{path}", timeout=timeout)
    except httpx.HTTPError as exc:
        return False, f"GET {path}: {type(exc).__name__} {exc}"[:200]
    return response.status_code == 200, f"GET {path}: {response.status_code}"


def bounded(fn: Callable[[T], R], items: Iterable[T], parallelism: int) -> list[R | BaseException]:
    """``fn`` over ``items`` with at most ``parallelism`` at once; each result or the exception it
    raised, in order (the caller decides what a failure means, after every call has ended)."""
    items = list(items)

    def guarded(item: T) -> R | BaseException:
        try:
            return fn(item)
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, not swallowed
            return exc

    if len(items) <= 1 or parallelism <= 1:
        return [guarded(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(parallelism, len(items))) as pool:
        return list(pool.map(guarded, items))
