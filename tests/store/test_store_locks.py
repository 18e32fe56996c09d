"""Locks on both backends; on PostgreSQL also the session advisory lock that dies with its holder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from bakery.errors import LockError
from bakery.store import locks
from bakery.store.db import connect

KEY = "rollout:staging/web"


@pytest.fixture
def conn(store_url):
    c = connect(store_url)
    yield c
    c.close()


def _insert(conn, key, pid, host=None, expires_in=30.0):
    now = time.time()
    conn.execute("INSERT INTO locks (key, token, owner, host, pid, acquired, heartbeat, expires, purpose)"
                 " VALUES (?,?,?,?,?,?,?,?,?)",
                 (key, "t0", "someone", host or socket.gethostname(), pid, now, now, now + expires_in, "x"))


def test_a_live_holder_is_named(store_url, conn):
    with locks.Held(store_url, KEY, purpose="rollout web 1.1.0"):
        with pytest.raises(LockError, match=rf"locked by \S+ on {socket.gethostname()} \(pid {os.getpid()}\)"
                                            r" since .* \(\d+s\), last heartbeat \d+s ago, rollout web"):
            locks.acquire(conn, KEY)
        assert locks.get(conn, KEY).purpose == "rollout web 1.1.0"
    assert locks.get(conn, KEY) is None


def test_an_expired_holder_elsewhere_is_taken_over(conn):
    _insert(conn, KEY, 4242, host="elsewhere", expires_in=-5)
    said = []
    lock = locks.acquire(conn, KEY, on_takeover=said.append)
    assert said and "from someone on elsewhere (pid 4242)" in said[0]
    assert locks.get(conn, KEY).token == lock.token


def test_held_heartbeats_and_releases(store_url, conn):
    with locks.Held(store_url, KEY, ttl=0.3) as held:
        first = locks.get(conn, KEY).heartbeat
        deadline = time.time() + 10
        while locks.get(conn, KEY).heartbeat == first and time.time() < deadline:
            time.sleep(0.05)
        assert locks.get(conn, KEY).heartbeat > first
        held.check()
    assert locks.get(conn, KEY) is None


def test_a_taken_over_holder_stops_at_its_next_check(store_url, conn):
    with locks.Held(store_url, KEY, ttl=30) as held:
        conn.execute("UPDATE locks SET token = 'theirs' WHERE key = ?", (KEY,))
        with pytest.raises(LockError, match="taken over"):
            held.check()


def test_a_frozen_holder_is_taken_over_after_expiry_and_stops(pg_url):
    """The frozen holder keeps its connection (so its advisory lock): the expiry rule still
    applies, and the run that takes over ends the frozen session."""
    held = locks.Held(pg_url, KEY, ttl=0.5)
    held.__enter__()
    held._stop.set()  # freeze: no more heartbeats (its connection stays open)
    held._thread.join()
    other = connect(pg_url)
    try:
        while locks.get(other, KEY).expires > time.time():
            time.sleep(0.05)
        said = []
        mine = locks.acquire(other, KEY, on_takeover=said.append)
        assert "heartbeat expired" in said[0]
        assert locks.get(other, KEY).token == mine.token
        with pytest.raises(LockError, match="lost its connection to the state server"):
            held.check()
    finally:
        other.close()
        held.__exit__(None, None, None)


HOLDER = textwrap.dedent("""
    import socket, sys, time
    from bakery.store import locks
    if sys.argv[2] != "-":
        socket.gethostname = lambda: sys.argv[2]   # pretend to be another machine
    with locks.Held(sys.argv[1], "rollout:staging/web", ttl=300, purpose="rollout web 1.0.0"):
        print("holding", flush=True)
        time.sleep(600)
""")


def _hold(url: str, host: str = "-") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, url, host], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_kill_9_of_the_holder_frees_the_lock_at_once(store_url, conn):
    proc = _hold(store_url)
    assert "stale" not in locks.describe_with_state(locks.get(conn, KEY), conn)
    try:
        with pytest.raises(LockError, match=rf"\(pid {proc.pid}\)"):
            locks.acquire(conn, KEY)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    said = []
    locks.acquire(conn, KEY, ttl=300, on_takeover=said.append)
    assert f"(pid {proc.pid})" in said[0]


def test_only_postgresql_frees_a_lock_whose_holder_died_on_another_machine(store_url, conn):
    """SQLite cannot see a process on another host die; the PostgreSQL session lock can."""
    proc = _hold(store_url, host="elsewhere")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if conn.dialect == "sqlite":
        assert "stale" not in locks.describe_with_state(locks.get(conn, KEY), conn)
        with pytest.raises(LockError, match="elsewhere"):
            locks.acquire(conn, KEY)
        return
    said = []
    locks.acquire(conn, KEY, on_takeover=said.append)
    assert "elsewhere" in said[0] and "connection to the state server closed" in said[0]


def test_status_sees_a_holder_that_died_on_another_machine(pg_url):
    conn = connect(pg_url)
    try:
        proc = _hold(pg_url, host="elsewhere")
        assert "stale" not in locks.describe_with_state(locks.get(conn, KEY), conn)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The server frees the session lock once it has read the closed socket: wait for that.
        text = ""
        for _ in range(200):
            text = locks.describe_with_state(locks.get(conn, KEY), conn)
            if "stale" in text:
                break
            time.sleep(0.05)
        assert "(stale: its connection to the state server closed" in text
    finally:
        conn.close()


def test_advisory_keys_are_stable_and_distinct():
    assert locks.advisory_key(KEY) == locks.advisory_key(KEY)
    assert locks.advisory_key(KEY) != locks.advisory_key("rollout:prod/web")
    assert -(2 ** 63) <= locks.advisory_key(KEY) < 2 ** 63
