"""The state store as the rollout's ``Journal`` and lock: one connection for the whole run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bakery.model.records import RolloutRow
from bakery.project import Project
from bakery.store import journal, locks
from bakery.store.db import open_store
from bakery.store.url import state_url


class StoreJournal:
    """``Journal`` over one open store connection (closed by whoever opened it)."""

    def __init__(self, conn: Any):  # a store connection (sqlite3 today)
        self.conn = conn

    def begin(self, row: RolloutRow) -> None:
        journal.begin(self.conn, row)

    def step(self, rollout_id: str, phase: str, action: str, detail: dict[str, Any]) -> None:
        journal.step(self.conn, rollout_id, phase, action, detail)

    def finish(self, rollout_id: str, status: str, reason: str = "") -> None:
        journal.finish(self.conn, rollout_id, status, reason)

    def unfinished(self, env: str, service: str) -> list[RolloutRow]:
        return journal.unfinished(self.conn, env, service)

    def history(self, env: str, service: str, limit: int = 50) -> list[RolloutRow]:
        return journal.history(self.conn, env, service, limit=limit)


@contextmanager
def open_journal(project: Project) -> Iterator[StoreJournal]:
    conn = open_store(project)
    try:
        yield StoreJournal(conn)
    finally:
        conn.close()


def store_lock(project: Project) -> Callable[[str, str, Callable[[str], None]], locks.Held]:
    """The ``LockFactory`` of the state store: owner, heartbeat, expiry and takeover (and on
    PostgreSQL a session advisory lock that dies with its holder)."""
    target = state_url(project)

    def lock(key: str, purpose: str, on_takeover: Callable[[str], None]) -> locks.Held:
        return locks.Held(target, key, purpose=purpose, on_takeover=on_takeover)
    return lock
