"""Rollout telemetry: load-balancer samples and rollout events, kept with the rollout's history row.

One row per sample or event, in the order recorded. ``kind`` is ``lb`` for a per-server stats
sample (raw HAProxy counters; rates are derived when a report is drawn) or the kind of a rollout
event (start, weights, tick, verdict, done, ...). Rows are bounded per rollout: when a rollout
runs long, ``thin`` drops every other row of the frequent kinds so the whole timeline stays, at
half the resolution, instead of its end being cut off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bakery.store.db import Connection

#: Kinds recorded about every second; the only ones ``thin`` removes.
FREQUENT = ("lb", "tick")


@dataclass(frozen=True)
class Sample:
    seq: int
    t: float
    kind: str
    data: dict[str, Any]


def append(conn: Connection, rollout_id: str, rows: list[tuple[float, str, dict[str, Any]]]) -> None:
    """Append ``(t, kind, data)`` rows in one transaction, after the rollout's last row."""
    if not rows:
        return
    with conn.transaction():  # one write lock and one commit for the batch
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM rollout_samples WHERE rollout_id = ?",
                           (rollout_id,)).fetchone()[0]
        for i, (t, kind, data) in enumerate(rows, 1):
            text = json.dumps(data, sort_keys=True, default=str)
            conn.execute("INSERT INTO rollout_samples (rollout_id, seq, t, kind, data) VALUES (?,?,?,?,?)",
                         (rollout_id, seq + i, round(t, 3), kind, text))


def count(conn: Connection, rollout_id: str, kinds: tuple[str, ...] = FREQUENT) -> int:
    marks = ",".join("?" * len(kinds))
    return conn.execute(f"SELECT COUNT(*) FROM rollout_samples WHERE rollout_id = ? AND kind IN ({marks})",
                        (rollout_id, *kinds)).fetchone()[0]


def thin(conn: Connection, rollout_id: str) -> int:
    """Drop every other row of each frequent kind (the first and last of each stay). Returns how many."""
    removed = 0
    with conn.transaction():  # one transaction: thousands of deletes, one commit
        for kind in FREQUENT:
            seqs = [r[0] for r in conn.execute(
                "SELECT seq FROM rollout_samples WHERE rollout_id = ? AND kind = ? ORDER BY seq",
                (rollout_id, kind))]
            drop = seqs[1:-1:2]
            for s in drop:
                conn.execute("DELETE FROM rollout_samples WHERE rollout_id = ? AND seq = ?", (rollout_id, s))
            removed += len(drop)
    return removed


def load(conn: Connection, rollout_id: str) -> list[Sample]:
    rows = conn.execute("SELECT seq, t, kind, data FROM rollout_samples WHERE rollout_id = ? ORDER BY seq",
                        (rollout_id,))
    return [Sample(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def recorded(conn: Connection, rollout_ids: list[str]) -> set[str]:
    """Which of these rollouts have telemetry (for `bakery history`'s report column)."""
    if not rollout_ids:
        return set()
    marks = ",".join("?" * len(rollout_ids))
    return {r[0] for r in conn.execute(
        f"SELECT DISTINCT rollout_id FROM rollout_samples WHERE rollout_id IN ({marks})", rollout_ids)}
