"""The recorder: events through to the sink untouched, sampling only between start and done,
nothing it meets (a failing balancer, a broken store) ever reaches the rollout."""

from __future__ import annotations

import threading
from pathlib import Path

from bakery.balancer.commands import ServerStat
from bakery.store import journal, samples
from bakery.store.db import connect
from bakery.telemetry import Recorder, recording


def stat(name: str, weight: int, responses: int, errors: int = 0) -> ServerStat:
    return ServerStat(backend="app", name=name, status="UP", weight=weight, scur=0, stot=responses,
                      hrsp_2xx=responses - errors, hrsp_5xx=errors, hrsp_other=0, rtime_ms=2,
                      check_status="L7OK", addr="10.0.0.2:8080")


class Balancer:
    """Counters that grow each time they are read, like a balancer under load."""

    def __init__(self) -> None:
        self.reads = 0
        self.fail = False
        self.read_twice = threading.Event()

    def stats(self) -> dict[str, ServerStat]:
        if self.fail:
            raise OSError("admin socket gone")
        self.reads += 1
        if self.reads >= 2:
            self.read_twice.set()
        n = self.reads * 10
        return {"blue1": stat("blue1", 90, 9 * n), "green1": stat("green1", 10, n, errors=n // 10),
                "green2": ServerStat("app", "green2", "MAINT", 0, 0, 0, 0, 0, 0, 0, "", "")}


def begin(db: Path, rid: str) -> None:
    conn = connect(db)
    journal.begin(conn, journal.RolloutRow(
        id=rid, env="staging", service="web", kind="rollout", strategy="canary", image_name="web",
        version="1.1.0", fingerprint="f" * 64, colour="green", prev_id=None, prev_version=None,
        prev_colour=None, status="running", started=journal.now(), finished=None, reason=""))
    conn.close()


def stored(db: Path, rid: str) -> list[samples.Sample]:
    conn = connect(db)
    try:
        return samples.load(conn, rid)
    finally:
        conn.close()


def test_records_events_and_samples_between_start_and_done(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    begin(db, "r1")
    lb = Balancer()
    seen: list[str] = []
    with recording(db, stats=lb.stats, interval=0.01, thresholds={"max_error_rate": 0.01}) as rec:
        sink = rec.wrap(lambda kind, data: seen.append(kind))
        sink("plan", {"strategy": "canary"})
        assert lb.reads == 0  # nothing sampled before the rollout has an id
        sink("start", {"rollout_id": "r1", "colour": "green", "version": "web 1.1.0"})
        sink("tick", {"step": 1, "probes": 3, "probe_errors": 0, "servers": [{"server": "green1"}]})
        assert lb.read_twice.wait(10)
        sink("verdict", {"step": 1, "outcome": "pass"})
        sink("done", {"status": "succeeded", "reason": ""})
        sink("info", {"text": "after done: not this rollout's"})
    assert seen == ["plan", "start", "tick", "verdict", "done", "info"]  # the sink got everything
    rows = stored(db, "r1")
    kinds = [r.kind for r in rows]
    assert kinds[:3] == ["thresholds", "plan", "start"] and "info" not in kinds
    assert kinds.count("lb") >= 2 and kinds.index("done") < len(kinds)
    tick = next(r for r in rows if r.kind == "tick")
    assert tick.data == {"step": 1, "probes": 3, "probe_errors": 0}  # the server table is in the lb rows
    sample = next(r for r in rows if r.kind == "lb").data["servers"]
    assert set(sample) == {"blue1", "green1"}  # the never-used slot is left out
    assert [r.t for r in rows] == sorted(r.t for r in rows)
    assert rec.errors == []


def test_a_failing_balancer_or_store_never_reaches_the_rollout(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    begin(db, "r2")
    lb = Balancer()
    lb.fail = True
    rec = Recorder(db, stats=lb.stats, interval=0.01)
    rec.on_event("start", {"rollout_id": "r2"})
    rec.on_event("verdict", {"step": object()})  # not JSON: stored as its text, nothing raised
    rec.on_event("done", {"status": "failed"})
    rec.close()
    assert any("admin socket gone" in e for e in rec.errors)
    assert [r.kind for r in stored(db, "r2")][0] == "start"

    broken = Recorder(tmp_path / "not-a-dir" / "x" / "\0bad.db", stats=Balancer().stats, interval=0.01)
    broken.on_event("start", {"rollout_id": "r3"})
    broken.close()
    assert broken.errors  # said, not raised


def test_a_long_rollout_is_thinned_not_cut(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    begin(db, "r4")
    lb = Balancer()
    rec = Recorder(db, stats=lb.stats, interval=0.001, max_rows=20)
    rec.on_event("start", {"rollout_id": "r4"})
    while lb.reads < 60:
        threading.Event().wait(0.01)
    rec.on_event("done", {"status": "succeeded"})
    rec.close()
    rows = stored(db, "r4")
    lb_rows = [r for r in rows if r.kind == "lb"]
    assert rec.thinned > 0 and len(lb_rows) <= 21
    assert rows[0].kind == "start" and rows[-1].kind in ("done", "lb")
    assert lb_rows[0].data["servers"]["blue1"]["responses"] == 90  # the first sample is still there


def test_a_rollout_that_raises_is_recorded_as_failed(tmp_path: Path) -> None:
    import pytest

    db = tmp_path / "state.db"
    begin(db, "r5")
    with pytest.raises(RuntimeError), recording(db, stats=Balancer().stats, interval=0.01) as rec:
        sink = rec.wrap()
        sink("weights", {"green_percent": 100})  # a reattach before the start: not this rollout's
        sink("start", {"rollout_id": "r5"})
        raise RuntimeError("the unwind failed")
    rows = stored(db, "r5")
    assert rows[0].kind == "start"
    assert [r.data for r in rows if r.kind == "done"] == [{"status": "failed", "reason": "the unwind failed"}]
