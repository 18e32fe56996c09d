"""Locks in the state store: one row per key (env+service), with owner, host, pid, heartbeat, expiry.

A holder refreshes its heartbeat from a thread while it works. A lock whose holder is dead
(same host, pid gone) or whose heartbeat expired is taken over, and the caller is told.
"""

from __future__ import annotations

import getpass
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bakery.errors import LockError

SCHEMA = """
CREATE TABLE IF NOT EXISTS locks (
    key       TEXT PRIMARY KEY,
    token     TEXT NOT NULL,
    owner     TEXT NOT NULL,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    acquired  REAL NOT NULL,
    heartbeat REAL NOT NULL,
    expires   REAL NOT NULL,
    purpose   TEXT NOT NULL DEFAULT ''
);
"""

DEFAULT_TTL = 30.0


@dataclass(frozen=True)
class LockInfo:
    key: str
    token: str
    owner: str
    host: str
    pid: int
    acquired: float
    heartbeat: float
    expires: float
    purpose: str = ""

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.acquired, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        beat = max(0.0, time.time() - self.heartbeat)
        return (f"{self.owner} on {self.host} (pid {self.pid}) since {since}, "
                f"last heartbeat {beat:.0f}s ago" + (f", {self.purpose}" if self.purpose else ""))


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purpose.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def stale_reason(info: LockInfo, host: str, now: float) -> str | None:
    """Why an existing lock may be taken over, or None when its holder is alive. Pure but for pid_alive."""
    if info.expires < now:
        return f"its heartbeat expired {now - info.expires:.0f}s ago"
    if info.host == host and not pid_alive(info.pid):
        return f"its process {info.pid} on {host} is gone"
    return None


def describe_with_state(lock: LockInfo) -> str:
    """The holder, and whether the next run will take the lock over (so nobody waits on a ghost)."""
    stale = stale_reason(lock, socket.gethostname(), time.time())
    return lock.describe() + (f" (stale: {stale}; the next run takes it over)" if stale else "")


def _row(row: sqlite3.Row) -> LockInfo:
    return LockInfo(row["key"], row["token"], row["owner"], row["host"], row["pid"], row["acquired"],
                    row["heartbeat"], row["expires"], row["purpose"])


def get(conn: sqlite3.Connection, key: str) -> LockInfo | None:
    row = conn.execute("SELECT * FROM locks WHERE key = ?", (key,)).fetchone()
    return _row(row) if row else None


def all_locks(conn: sqlite3.Connection) -> list[LockInfo]:
    return [_row(r) for r in conn.execute("SELECT * FROM locks ORDER BY key")]


def acquire(conn: sqlite3.Connection, key: str, ttl: float = DEFAULT_TTL, purpose: str = "",
            on_takeover: Callable[[str], None] | None = None) -> LockInfo:
    """Take ``key`` or raise LockError naming the live holder."""
    host = socket.gethostname()
    now = time.time()
    mine = LockInfo(key, uuid.uuid4().hex, getpass.getuser(), host, os.getpid(), now, now, now + ttl,
                     purpose)
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = get(conn, key)
        if current is not None:
            reason = stale_reason(current, host, now)
            if reason is None:
                raise LockError(f"{key} is locked by {current.describe()}; wait for it to finish, "
                                "or if that process is gone for good, its lock expires "
                                f"{max(0.0, current.expires - now):.0f}s after its last heartbeat")
            if on_takeover:
                on_takeover(f"taking over the lock {key} from {current.owner} on {current.host} "
                            f"(pid {current.pid}): {reason}")
            conn.execute("DELETE FROM locks WHERE key = ?", (key,))
        conn.execute("INSERT INTO locks (key, token, owner, host, pid, acquired, heartbeat, expires, purpose)"
                     " VALUES (?,?,?,?,?,?,?,?,?)",
                     (mine.key, mine.token, mine.owner, mine.host, mine.pid, mine.acquired,
                      mine.heartbeat, mine.expires, mine.purpose))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return mine


def heartbeat(conn: sqlite3.Connection, lock: LockInfo, ttl: float = DEFAULT_TTL) -> bool:
    """Refresh; False when the lock is no longer ours (taken over after an expiry)."""
    now = time.time()
    cur = conn.execute("UPDATE locks SET heartbeat = ?, expires = ? WHERE key = ? AND token = ?",
                       (now, now + ttl, lock.key, lock.token))
    return cur.rowcount == 1


def release(conn: sqlite3.Connection, lock: LockInfo) -> None:
    conn.execute("DELETE FROM locks WHERE key = ? AND token = ?", (lock.key, lock.token))


class Held:
    """Context manager: acquire, heartbeat from a thread, release on exit."""

    def __init__(self, db_path: Path, key: str, ttl: float = DEFAULT_TTL, purpose: str = "",
                 on_takeover: Callable[[str], None] | None = None):
        self.db_path, self.key, self.ttl, self.purpose = db_path, key, ttl, purpose
        self.on_takeover = on_takeover
        self.lock: LockInfo | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def __enter__(self) -> Held:
        from bakery.store.db import connect

        conn = connect(self.db_path)
        try:
            self.lock = acquire(conn, self.key, self.ttl, self.purpose, self.on_takeover)
        finally:
            conn.close()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {self.key}", daemon=True)
        self._thread.start()
        return self

    def check(self) -> None:
        """Raise LockError when the lock is no longer ours (a holder frozen past its expiry was
        taken over); called before each rollout step, so a woken holder stops instead of acting."""
        from bakery.store.db import connect

        if self.lock is None:
            return
        conn = connect(self.db_path)
        try:
            current = get(conn, self.key)
        finally:
            conn.close()
        if self.lost or current is None or current.token != self.lock.token:
            self.lost = True
            holder = f" by {current.describe()}" if current else ""
            raise LockError(f"{self.key} was taken over{holder} while this run was not heartbeating "
                            "(stopped or suspended past the lock's expiry); stopping without another "
                            "change: the run that took over recovers this one")

    def _beat(self) -> None:
        from bakery.store.db import connect

        conn = connect(self.db_path)
        try:
            while not self._stop.wait(self.ttl / 3):
                if self.lock and not heartbeat(conn, self.lock, self.ttl):
                    self.lost = True
                    return
        finally:
            conn.close()

    def __exit__(self, *exc: object) -> None:
        from bakery.store.db import connect

        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self.lock:
            conn = connect(self.db_path)
            try:
                release(conn, self.lock)
            finally:
                conn.close()
