"""Locks and the journal in a real SQLite store."""

import os
import socket
import subprocess
import sys
import time

import pytest

from bakery.errors import LockError
from bakery.store import journal, locks
from bakery.store.db import connect


@pytest.fixture
def conn(tmp_path):
    c = connect(tmp_path / "state.db")
    yield c
    c.close()


def _insert(conn, key, pid, host=None, expires_in=30.0):
    now = time.time()
    conn.execute("INSERT INTO locks (key, token, owner, host, pid, acquired, heartbeat, expires, purpose)"
                 " VALUES (?,?,?,?,?,?,?,?,?)",
                 (key, "t0", "someone", host or socket.gethostname(), pid, now, now, now + expires_in, "x"))


def test_live_holder_is_named(conn):
    _insert(conn, "rollout:staging/web", os.getpid())
    with pytest.raises(LockError, match=r"locked by someone on .* \(pid \d+\)"):
        locks.acquire(conn, "rollout:staging/web")


def test_dead_holder_is_taken_over(conn):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    _insert(conn, "k", int(proc.stdout))
    said = []
    lock = locks.acquire(conn, "k", on_takeover=said.append)
    assert said and "is gone" in said[0]
    assert locks.get(conn, "k").token == lock.token


def test_expired_heartbeat_is_taken_over(conn):
    _insert(conn, "k", os.getpid(), host="elsewhere", expires_in=-5)
    said = []
    locks.acquire(conn, "k", on_takeover=said.append)
    assert "expired" in said[0]


def test_other_host_alive_is_respected(conn):
    _insert(conn, "k", 1, host="elsewhere")
    with pytest.raises(LockError, match="elsewhere"):
        locks.acquire(conn, "k")


def test_held_heartbeats_and_releases(tmp_path):
    db = tmp_path / "s.db"
    with locks.Held(db, "k", ttl=0.3) as held:
        c = connect(db)
        first = locks.get(c, "k").heartbeat
        deadline = time.time() + 5
        while locks.get(c, "k").heartbeat == first and time.time() < deadline:
            time.sleep(0.05)
        assert locks.get(c, "k").heartbeat > first
        assert held.lock is not None
    assert locks.get(c, "k") is None
    c.close()


def test_journal_records_steps_and_history(conn):
    rid = journal.new_id()
    journal.begin(conn, journal.RolloutRow(rid, "staging", "web", "rollout", "canary", "web", "1.1.0",
                                           "f" * 64, "green", None, None, None, "running",
                                           journal.now(), None, ""))
    journal.step(conn, rid, "starting", "StartGreen", {})
    journal.step(conn, rid, "canary", "SetWeights", {"green": 10})
    assert [r.id for r in journal.unfinished(conn, "staging", "web")] == [rid]
    journal.finish(conn, rid, "succeeded")
    assert journal.unfinished(conn, "staging", "web") == []
    assert [s["action"] for s in journal.steps(conn, rid)] == ["StartGreen", "SetWeights"]
    assert journal.history(conn, "staging")[0].status == "succeeded"


def test_a_lock_taken_over_is_noticed_before_the_next_step(tmp_path):
    """A holder frozen past its expiry (SIGSTOP, a suspended VM) may have been taken over; when
    it wakes it must stop before acting again, not race the run that took over."""
    db = tmp_path / "state.db"
    with locks.Held(db, "rollout:staging/web", ttl=30) as held:
        held.check()  # still ours
        c = connect(db)
        c.execute("UPDATE locks SET token = 'theirs', pid = 1 WHERE key = 'rollout:staging/web'")
        c.close()
        with pytest.raises(LockError, match="taken over"):
            held.check()


def test_status_text_says_when_a_lock_is_stale(conn):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    _insert(conn, "dead", int(proc.stdout))
    _insert(conn, "live", os.getpid())
    _insert(conn, "expired", os.getpid(), expires_in=-5.0)
    text = {k: locks.describe_with_state(locks.get(conn, k)) for k in ("dead", "live", "expired")}
    assert f"(stale: its process {proc.stdout.strip()} on" in text["dead"]
    assert "the next run takes it over" in text["dead"]
    assert "stale" not in text["live"]
    assert "(stale: its heartbeat expired" in text["expired"]
