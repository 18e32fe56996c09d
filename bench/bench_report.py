#!/usr/bin/env python3
"""What recording and notifying cost a rollout, and what a report of a long rollout costs.

    .venv/bin/python bench/bench_report.py

1. The rollout thread's cost per event: a bare sink against the same sink wrapped by the
   recorder and by a notifier whose only target accepts connections and never answers (a
   webhook host that hangs). The wrapped sink must stay a queue put, whatever the target does.
2. A synthetic one-hour canary (3600 one-second samples of 4 servers, 2 verdicts): rows kept
   after thinning, store size, and the time and size of its HTML report and PNG.
Ratios come from one run on a shared machine: read them as orders of magnitude.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bakery.balancer.commands import ServerStat  # noqa: E402
from bakery.notify import Notifier  # noqa: E402
from bakery.report import write  # noqa: E402
from bakery.store import journal, samples  # noqa: E402
from bakery.store.db import connect  # noqa: E402
from bakery.telemetry import Recorder, load  # noqa: E402

EVENTS = 2000


def hanging_target() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    threading.Thread(target=lambda: [sock.accept() for _ in iter(int, 1)], daemon=True).start()
    return sock, f"json://127.0.0.1:{sock.getsockname()[1]}/hook"


def begin(db: Path, rid: str) -> None:
    conn = connect(db)
    journal.begin(conn, journal.RolloutRow(
        id=rid, env="bench", service="web", kind="rollout", strategy="canary", image_name="web",
        version="1.1.0", fingerprint="f" * 64, colour="green", prev_id=None, prev_version=None,
        prev_colour=None, status="failed", started=journal.now(), finished=journal.now(),
        reason="bench"))
    conn.close()


def per_event(sink, n: int = EVENTS) -> float:  # noqa: ANN001
    data = {"step": 1, "weight": 10, "outcome": "fail", "summary": "error rate 30% > 1%"}
    started = time.perf_counter()
    for i in range(n):
        sink("verdict" if i % 50 == 0 else "tick", data)
    return (time.perf_counter() - started) / n


def stats() -> dict[str, ServerStat]:
    return {f"{c}{i}": ServerStat("app", f"{c}{i}", "UP", 100, 1, 1000, 990, 10, 0, 3, "L7OK", "10.0.0.2:80")
            for c in ("blue", "green") for i in (1, 2)}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    db = tmp / "state.db"
    begin(db, "r-events")
    bare = per_event(lambda kind, data: None)
    sock, dead = hanging_target()
    rec = Recorder(db, stats=stats, interval=1.0)
    notifier = Notifier([dead], "bench", "web", timeout=2.0)
    wrapped_sink = rec.wrap(notifier.wrap(lambda kind, data: None))
    wrapped_sink("start", {"rollout_id": "r-events", "strategy": "canary", "version": "web 1.1.0"})
    wrapped = per_event(wrapped_sink)
    started = time.monotonic()
    wrapped_sink("done", {"status": "failed", "reason": "bench"})
    notifier.close()
    rec.close()
    closing = time.monotonic() - started
    sock.close()
    print(f"per event on the rollout thread: bare {bare * 1e6:.2f} us, recorder + notifier (hanging "
          f"target) {wrapped * 1e6:.2f} us = {wrapped / bare:.0f}x bare; {EVENTS} events in "
          f"{wrapped * EVENTS * 1000:.1f} ms; close() with the hanging target {closing:.2f} s "
          f"(notify timeout 2 s); {len(notifier.dropped)} message(s) dropped")

    begin(db, "r-hour")
    conn = connect(db)
    rows: list[tuple[float, str, dict]] = [(0.0, "start", {"rollout_id": "r-hour"})]
    for t in range(3600):
        share = 10 if t < 1800 else 50
        servers = {f"{c}{i}": {"status": "UP", "weight": 2 * (share if c == "green" else 100 - share),
                               "sessions": 1, "responses": t * (share if c == "green" else 100 - share),
                               "hrsp_2xx": 0, "hrsp_5xx": t * share // 50 if c == "green" else 0,
                               "hrsp_other": 0, "rtime_ms": 3, "check": "L7OK", "addr": "10.0.0.2:80"}
                   for c in ("blue", "green") for i in (1, 2)}
        rows.append((float(t), "lb", {"servers": servers}))
        rows.append((t + 0.5, "tick", {"step": 1, "probes": t, "probe_errors": 0}))
    for step, t in ((1, 1799.0), (2, 3599.0)):
        outcome = "fail" if step == 2 else "pass"
        rows.append((t, "verdict", {"step": step, "weight": 10 * step, "outcome": outcome,
                                    "error_rate": 0.02 * (step - 1), "p99_ms": 9.0, "samples": 500,
                                    "max_error_rate": 0.01, "max_p99_ms": 500}))
    samples.append(conn, "r-hour", sorted(rows, key=lambda r: r[0]))
    before = samples.count(conn, "r-hour")
    samples.thin(conn, "r-hour")
    after = samples.count(conn, "r-hour")
    conn.close()
    stored = load(db, "r-hour")
    started = time.monotonic()
    written = write(stored, tmp / "r-hour.html")
    render = time.monotonic() - started
    print(f"one hour at 1/s: {before} frequent rows, {after} after one thinning; state.db "
          f"{db.stat().st_size / 1e6:.1f} MB; report in {render:.1f} s: HTML "
          f"{written.html.stat().st_size / 1e6:.1f} MB, PNG {written.png.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
