"""Record a rollout as it runs: its events, and HAProxy's per-server stats every second.

The recorder sits between the executor and whatever shows progress (``wrap(sink)``), learns the
rollout id from the ``start`` event, and from then on a background thread samples the load
balancer through the ``stats`` callable it was given and writes samples and events to the state
store. The rollout thread only puts events on a queue: the recorder can neither fail nor slow a
rollout; what goes wrong is logged and counted in ``errors``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bakery.balancer.commands import ServerStat
from bakery.store import samples
from bakery.store.db import connect

log = logging.getLogger(__name__)

Sink = Callable[[str, dict[str, Any]], None]
StatsFn = Callable[[], dict[str, ServerStat]]

#: Events seen before ``start`` (plan, notes) are kept, up to this many, and stored at t=0.
EARLY_EVENTS = 100
LATER_ONLY = ("weights", "tick", "verdict", "done", "health", "phase")


def server_sample(stats: dict[str, ServerStat]) -> dict[str, Any]:
    """The part of `show stat` a report needs, per server slot that is or was in use.

    Counters stay raw (cumulative); rates are derived when the report is drawn, so a missed
    sample costs resolution, not correctness. Connection errors are taken when the balancer's
    ServerStat carries HAProxy's econ/eresp columns, and left out otherwise.
    """
    servers = {}
    for s in stats.values():
        if s.colour is None or (s.in_maint and s.stot == 0):
            continue  # a slot never used: nothing to draw
        row: dict[str, Any] = {"status": s.status, "weight": s.weight, "sessions": s.scur,
                               "responses": s.responses, "hrsp_2xx": s.hrsp_2xx, "hrsp_5xx": s.hrsp_5xx,
                               "hrsp_other": s.hrsp_other, "rtime_ms": s.rtime_ms,
                               "check": s.check_status, "addr": s.addr}
        conn_errors = [getattr(s, name) for name in ("econ", "eresp") if hasattr(s, name)]
        if conn_errors:
            row["conn_errors"] = sum(conn_errors)
        servers[s.name] = row
    return {"servers": servers}


def slim(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """What of an event is worth keeping: a tick's server table repeats the lb sample, so it goes."""
    if kind == "tick":
        return {k: v for k, v in data.items() if k != "servers"}
    return dict(data)


class Recorder:
    """Consumes rollout events; samples the balancer in the background between start and done."""

    def __init__(self, db_path: Path, stats: StatsFn | None = None, interval: float = 1.0,
                 max_rows: int = 3600, clock: Callable[[], float] = time.monotonic,
                 thresholds: dict[str, float] | None = None):
        self.db_path = db_path
        self.stats = stats
        self.interval = interval
        self.max_rows = max_rows
        self.clock = clock
        self.rollout_id: str | None = None
        self.errors: list[str] = []
        self.rows_written = 0
        self.thinned = 0
        self._t0 = 0.0
        self._early: list[tuple[str, dict[str, Any]]] = []
        self._queue: queue.SimpleQueue[tuple[float, str, dict[str, Any]]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_tick = float("-inf")
        if thresholds:  # the analysis limits, for a report of a rollout that had no verdict
            self._early.append(("thresholds", dict(thresholds)))

    # -- the rollout side: cheap, never raises ----------------------------------------------------
    def wrap(self, sink: Sink | None = None) -> Sink:
        """A sink that records each event, then passes it on to ``sink``."""
        def recorded(kind: str, data: dict[str, Any]) -> None:
            self.on_event(kind, data)
            if sink is not None:
                sink(kind, data)
        return recorded

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        try:
            self._on_event(kind, data)
        except Exception as exc:  # noqa: BLE001 - recording must never stop a rollout
            self._failed(f"recording a {kind} event: {exc}")

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "start" and self.rollout_id is None:
            self.rollout_id = str(data["rollout_id"])
            self._t0 = self.clock()
            for early_kind, early in self._early:
                self._queue.put((0.0, early_kind, early))
            self._early.clear()
            self._queue.put((0.0, kind, slim(kind, data)))
            self._thread = threading.Thread(target=self._run, name=f"telemetry-{self.rollout_id}",
                                            daemon=True)
            self._thread.start()
            return
        if self.rollout_id is None:
            # Before start: the plan and notes of this rollout; weights and verdicts then belong
            # to a recovery or reattach, which has its own history row.
            if kind not in LATER_ONLY and len(self._early) < EARLY_EVENTS:
                self._early.append((kind, slim(kind, data)))
            return
        if self._stop.is_set():
            return  # after done: a later rollout's events are not this one's
        t = self.clock() - self._t0
        if kind == "tick":  # ticks come about every second; keep them at the sampling interval
            if t - self._last_tick < self.interval * 0.9:
                return
            self._last_tick = t
        self._queue.put((t, kind, slim(kind, data)))
        if kind == "done":
            self._stop.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop sampling and write what is queued; waits at most ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._failed(f"the telemetry writer did not finish within {timeout:g}s")

    # -- the background side -------------------------------------------------------------------------
    def _failed(self, text: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(text)
        log.warning("telemetry: %s", text)

    def _sample(self) -> tuple[float, str, dict[str, Any]] | None:
        if self.stats is None:
            return None
        try:
            stats = self.stats()
        except Exception as exc:  # noqa: BLE001 - a balancer restarting: a gap in the samples
            self._failed(f"sampling the load balancer: {exc}")
            return None
        return (self.clock() - self._t0, "lb", server_sample(stats))

    def _drain(self) -> list[tuple[float, str, dict[str, Any]]]:
        rows = []
        while True:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                return rows

    def _run(self) -> None:
        assert self.rollout_id is not None
        try:
            conn = connect(self.db_path)
        except Exception as exc:  # noqa: BLE001
            self._failed(f"opening the state store: {exc}")
            return
        try:
            frequent = 0
            next_at = self.clock()
            while True:
                stopping = self._stop.wait(max(0.0, next_at - self.clock()))
                rows = self._drain()
                sample = self._sample()
                if sample is not None:
                    rows.append(sample)
                rows.sort(key=lambda r: r[0])
                try:
                    samples.append(conn, self.rollout_id, rows)
                    self.rows_written += len(rows)
                    frequent += sum(1 for r in rows if r[1] in samples.FREQUENT)
                    if frequent > self.max_rows:
                        self.thinned += samples.thin(conn, self.rollout_id)
                        frequent = samples.count(conn, self.rollout_id)
                        self.interval *= 2  # half the resolution from here on, like what was kept
                except Exception as exc:  # noqa: BLE001 - a busy or broken store: lose these rows only
                    self._failed(f"writing {len(rows)} row(s): {exc}")
                if stopping:
                    rest = self._drain()
                    if rest:
                        samples.append(conn, self.rollout_id, rest)
                        self.rows_written += len(rest)
                    return
                next_at = max(next_at + self.interval, self.clock())
        except Exception as exc:  # noqa: BLE001
            self._failed(f"telemetry stopped: {exc}")
        finally:
            conn.close()


@contextmanager
def recording(db_path: Path, stats: StatsFn | None = None, interval: float = 1.0,
              max_rows: int = 3600, thresholds: dict[str, float] | None = None) -> Iterator[Recorder]:
    """A recorder for the rollout run inside the block; stopped (and flushed) when it ends."""
    rec = Recorder(db_path, stats, interval, max_rows, thresholds=thresholds)
    try:
        yield rec
    except BaseException as exc:
        # A rollout that stopped with an exception sends no done event: record how it ended.
        rec.on_event("done", {"status": "failed", "reason": str(exc) or type(exc).__name__})
        raise
    finally:
        rec.close()
