"""Locks in the state store: one row per key (env+service), with owner, host, pid, heartbeat, expiry.

A holder refreshes its heartbeat from a thread while it works. A lock whose holder is dead
(same host, pid gone) or whose heartbeat expired is taken over, and the caller is told.

On PostgreSQL the row comes with a session advisory lock (``pg_try_advisory_lock`` keyed by the
lock key) held on the holder's own connection. A holder that dies, on any machine, loses its
connection and with it the advisory lock, so the next run takes over at once. A holder that is
frozen (SIGSTOP, a suspended VM) keeps its connection: the heartbeat and expiry rules apply as
on SQLite, and the run that takes over ends the frozen session (``pg_terminate_backend``).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from bakery.errors import LockError, StoreError
from bakery.store.db import Connection, connect
from bakery.store.url import StateURL

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
    session: int = 0  # the holder's PostgreSQL backend pid (0 on SQLite)

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.acquired, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        now = time.time()
        age, beat = max(0.0, now - self.acquired), max(0.0, now - self.heartbeat)
        return (f"{self.owner} on {self.host} (pid {self.pid}) since {since} ({age:.0f}s), "
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


def describe_with_state(lock: LockInfo, conn: Connection | None = None) -> str:
    """The holder, and whether the next run will take the lock over (so nobody waits on a ghost).
    Given the PostgreSQL connection, a holder that died on another machine is seen too."""
    stale = stale_reason(lock, socket.gethostname(), time.time())
    if stale is None and conn is not None and session_gone(conn, lock):
        stale = "its connection to the state server closed (the process ended)"
    return lock.describe() + (f" (stale: {stale}; the next run takes it over)" if stale else "")


def session_gone(conn: Connection, lock: LockInfo) -> bool:
    """On PostgreSQL, whether nobody holds the lock's session advisory lock any more (its holder
    died with its connection). Always False on SQLite, which has no such thing."""
    if conn.dialect != "postgresql":
        return False
    k = advisory_key(lock.key) & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        " AND classid = ?::bigint::oid AND objid = ?::bigint::oid"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (k >> 32, k & 0xFFFFFFFF)).fetchone()
    return row is None


def _row(row: Any) -> LockInfo:
    return LockInfo(row["key"], row["token"], row["owner"], row["host"], row["pid"], row["acquired"],
                    row["heartbeat"], row["expires"], row["purpose"], row["session"])


def get(conn: Connection, key: str) -> LockInfo | None:
    row = conn.execute("SELECT * FROM locks WHERE key = ?", (key,)).fetchone()
    return _row(row) if row else None


def all_locks(conn: Connection) -> list[LockInfo]:
    return [_row(r) for r in conn.execute("SELECT * FROM locks ORDER BY key")]


def advisory_key(key: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock id of a lock key (stable across machines)."""
    return int.from_bytes(hashlib.sha256(b"bakery-lock:" + key.encode()).digest()[:8], "big", signed=True)


#: How long a live-looking holder is looked at again before a refusal: a holder killed a moment
#: ago still holds its session lock until its server process has read the closed socket.
SETTLE = 0.5
_ROW_CLASS = 0x62616B  # two-int advisory keys (a key space apart from the one-bigint session locks)


def _held_message(key: str, current: LockInfo, now: float) -> str:
    return (f"{key} is locked by {current.describe()}; wait for it to finish, or if that process is "
            f"gone for good, its lock expires {max(0.0, current.expires - now):.0f}s after its last "
            "heartbeat")


def _insert(conn: Connection, lock: LockInfo) -> None:
    conn.execute("INSERT INTO locks (key, token, owner, host, pid, acquired, heartbeat, expires, purpose,"
                 " session) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (lock.key, lock.token, lock.owner, lock.host, lock.pid, lock.acquired, lock.heartbeat,
                  lock.expires, lock.purpose, lock.session))


def _mine(key: str, ttl: float, purpose: str, session: int = 0) -> LockInfo:
    now = time.time()
    return LockInfo(key, uuid.uuid4().hex, getpass.getuser(), socket.gethostname(), os.getpid(), now,
                    now, now + ttl, purpose, session)


def acquire(conn: Connection, key: str, ttl: float = DEFAULT_TTL, purpose: str = "",
            on_takeover: Callable[[str], None] | None = None) -> LockInfo:
    """Take ``key`` or raise LockError naming the live holder. On PostgreSQL the lock lasts as
    long as ``conn`` stays open (use ``Held``, which keeps it)."""
    if conn.dialect == "postgresql":
        return _acquire_postgresql(conn, key, ttl, purpose, on_takeover)
    mine = _mine(key, ttl, purpose)
    with conn.transaction():
        current = get(conn, key)
        if current is not None:
            reason = stale_reason(current, mine.host, mine.acquired)
            if reason is None:
                raise LockError(_held_message(key, current, mine.acquired))
            _tell(on_takeover, current, reason)
            conn.execute("DELETE FROM locks WHERE key = ?", (key,))
        _insert(conn, mine)
    return mine


def _tell(on_takeover: Callable[[str], None] | None, current: LockInfo, reason: str) -> None:
    if on_takeover:
        on_takeover(f"taking over the lock {current.key} from {current.owner} on {current.host} "
                    f"(pid {current.pid}): {reason}")


def _try_session_lock(conn: Connection, key: str) -> bool:
    return bool(conn.execute("SELECT pg_try_advisory_lock(?::bigint)", (advisory_key(key),)).fetchone()[0])


def _acquire_postgresql(conn: Connection, key: str, ttl: float, purpose: str,
                        on_takeover: Callable[[str], None] | None) -> LockInfo:
    session = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
    # A run between taking the session lock and writing its row (or between deleting its row
    # and unlocking) is seen for a few milliseconds; look again briefly instead of failing.
    # Likewise a holder killed a moment ago: its server process is still exiting (SETTLE).
    start = time.monotonic()
    deadline = start + 2.0
    while True:
        got = _try_session_lock(conn, key)
        try:
            mine = _mine(key, ttl, purpose, session)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(?::int, ?::int)",
                             (_ROW_CLASS, advisory_key(key) & 0x7FFFFFFF))
                current = get(conn, key)
                if current is None and not got:
                    raise _Retry()
                if current is not None:
                    if got:
                        _tell(on_takeover, current, "its connection to the state server closed "
                                                    "(the process ended)")
                    else:
                        reason = stale_reason(current, mine.host, mine.acquired)
                        if reason is None:
                            if time.monotonic() < start + SETTLE:
                                raise _Retry()
                            raise LockError(_held_message(key, current, mine.acquired))
                        _tell(on_takeover, current, reason)
                        _end_session(conn, key, current)
                        got = True
                    conn.execute("DELETE FROM locks WHERE key = ?", (key,))
                _insert(conn, mine)
            return mine
        except _Retry:
            if time.monotonic() > deadline:
                raise LockError(f"{key} is being taken by another run right now; try again") from None
            time.sleep(0.02)
        except BaseException:
            if got:
                _unlock_session(conn, key)
            raise


class _Retry(Exception):
    pass


def _end_session(conn: Connection, key: str, current: LockInfo) -> None:
    """End a frozen holder's server session so its advisory lock is freed, then take that lock."""
    if current.session:
        conn.execute("SELECT pg_terminate_backend(?::int)", (current.session,))
    try:  # the server frees the advisory lock once the terminated backend is gone
        Retrying(stop=stop_after_delay(10.0), wait=wait_fixed(0.05),
                 retry=retry_if_result(lambda got: not got))(_try_session_lock, conn, key)
    except RetryError:
        raise LockError(f"{key}: the stale holder's session {current.session} still holds the server "
                        "lock; a database administrator can end it with pg_terminate_backend") from None


def _unlock_session(conn: Connection, key: str) -> None:
    try:
        conn.execute("SELECT pg_advisory_unlock(?::bigint)", (advisory_key(key),))
    except StoreError:
        pass  # the connection is gone, and the lock with it


def heartbeat(conn: Connection, lock: LockInfo, ttl: float = DEFAULT_TTL) -> bool:
    """Refresh; False when the lock is no longer ours (taken over after an expiry)."""
    now = time.time()
    cur = conn.execute("UPDATE locks SET heartbeat = ?, expires = ? WHERE key = ? AND token = ?",
                       (now, now + ttl, lock.key, lock.token))
    return cur.rowcount == 1


def release(conn: Connection, lock: LockInfo) -> None:
    conn.execute("DELETE FROM locks WHERE key = ? AND token = ?", (lock.key, lock.token))
    if conn.dialect == "postgresql":
        _unlock_session(conn, lock.key)


class Held:
    """Context manager: acquire, heartbeat from a thread, release on exit.

    ``target`` is what ``connect`` takes: a SQLite Path (``project.db_path``, as before) or a
    state URL. On PostgreSQL one connection stays open for the whole hold: it carries the
    session advisory lock, the heartbeat and the checks."""

    def __init__(self, target: Path | str | StateURL, key: str, ttl: float = DEFAULT_TTL,
                 purpose: str = "", on_takeover: Callable[[str], None] | None = None):
        self.target, self.key, self.ttl, self.purpose = target, key, ttl, purpose
        self.db_path = target  # the old name, for callers that read it
        self.on_takeover = on_takeover
        self.lock: LockInfo | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session: Connection | None = None
        self.lost = False

    def __enter__(self) -> Held:
        conn = connect(self.target)
        try:
            self.lock = acquire(conn, self.key, self.ttl, self.purpose, self.on_takeover)
        except BaseException:
            conn.close()
            raise
        if conn.dialect == "postgresql":
            self._session = conn
        else:
            conn.close()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {self.key}", daemon=True)
        self._thread.start()
        return self

    def check(self) -> None:
        """Raise LockError when the lock is no longer ours (a holder frozen past its expiry was
        taken over); called before each rollout step, so a woken holder stops instead of acting."""
        if self.lock is None:
            return
        try:
            if self._session is not None:
                current = get(self._session, self.key)
            else:
                conn = connect(self.target)
                try:
                    current = get(conn, self.key)
                finally:
                    conn.close()
        except StoreError as exc:
            if self._session is None:
                raise
            self.lost = True  # our session was ended (by a run that took over, or the server)
            raise LockError(f"{self.key}: this run lost its connection to the state server, and the "
                            "lock with it (a run that took over ends a frozen holder's session); "
                            "stopping without another change: the next run recovers this one") from exc
        if self.lost or current is None or current.token != self.lock.token:
            self.lost = True
            holder = f" by {current.describe()}" if current else ""
            raise LockError(f"{self.key} was taken over{holder} while this run was not heartbeating "
                            "(stopped or suspended past the lock's expiry); stopping without another "
                            "change: the run that took over recovers this one")

    def _beat(self) -> None:
        conn = self._session or connect(self.target)
        try:
            while not self._stop.wait(self.ttl / 3):
                try:
                    ours = self.lock is not None and heartbeat(conn, self.lock, self.ttl)
                except StoreError:
                    ours = False
                if not ours:
                    self.lost = True
                    return
        finally:
            if conn is not self._session:
                conn.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self.lock:
            conn = self._session or connect(self.target)
            try:
                release(conn, self.lock)
            except StoreError:
                if conn is not self._session:
                    raise
            finally:
                conn.close()
