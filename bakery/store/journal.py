"""The rollout journal: one row per rollout (its history) and every step, written BEFORE it acts.

An interrupted rollout leaves status 'running'; the next run finds it here, then reads what
actually runs (engine labels, HAProxy state) to decide whether to unwind or finish it.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from bakery.model.records import RolloutRow, new_id, now

__all__ = ["RolloutRow", "new_id", "now"]  # re-exported: callers of the journal use them

SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
    id            TEXT PRIMARY KEY,
    env           TEXT NOT NULL,
    service       TEXT NOT NULL,
    kind          TEXT NOT NULL,          -- rollout | rollback
    strategy      TEXT NOT NULL,          -- blue-green | canary | rollback
    image_name    TEXT NOT NULL,
    version       TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    colour        TEXT NOT NULL,
    prev_id       TEXT,
    prev_version  TEXT,
    prev_colour   TEXT,
    status        TEXT NOT NULL,          -- running | succeeded | failed | unwound | noop
    started       TEXT NOT NULL,
    finished      TEXT,
    reason        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS rollouts_by_target ON rollouts(env, service, started);
CREATE TABLE IF NOT EXISTS rollout_steps (
    rollout_id  TEXT NOT NULL REFERENCES rollouts(id),
    seq         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    phase       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (rollout_id, seq)
);
"""


def begin(conn: sqlite3.Connection, row: RolloutRow) -> None:
    conn.execute(
        "INSERT INTO rollouts (id, env, service, kind, strategy, image_name, version, fingerprint, colour,"
        " prev_id, prev_version, prev_colour, status, started, finished, reason)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (row.id, row.env, row.service, row.kind, row.strategy, row.image_name, row.version,
         row.fingerprint, row.colour, row.prev_id, row.prev_version, row.prev_colour, row.status,
         row.started, row.finished, row.reason))


def step(conn: sqlite3.Connection, rollout_id: str, phase: str, action: str,
         detail: dict[str, Any] | None = None) -> int:
    """Append a step; call it before acting, so a crash leaves the intent on record."""
    seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollout_steps WHERE rollout_id = ?",
                       (rollout_id,)).fetchone()[0]
    conn.execute("INSERT INTO rollout_steps (rollout_id, seq, at, phase, action, detail)"
                 " VALUES (?,?,?,?,?,?)",
                 (rollout_id, seq, now(), phase, action, json.dumps(detail or {}, sort_keys=True)))
    return seq


def finish(conn: sqlite3.Connection, rollout_id: str, status: str, reason: str = "") -> None:
    conn.execute("UPDATE rollouts SET status = ?, finished = ?, reason = ? WHERE id = ?",
                 (status, now(), reason, rollout_id))


def _row(r: sqlite3.Row) -> RolloutRow:
    return RolloutRow(**{k: r[k] for k in r.keys()})


def get(conn: sqlite3.Connection, rollout_id: str) -> RolloutRow | None:
    r = conn.execute("SELECT * FROM rollouts WHERE id = ?", (rollout_id,)).fetchone()
    return _row(r) if r else None


def unfinished(conn: sqlite3.Connection, env: str, service: str) -> list[RolloutRow]:
    rows = conn.execute("SELECT * FROM rollouts WHERE env = ? AND service = ? AND status = 'running'"
                        " ORDER BY started", (env, service))
    return [_row(r) for r in rows]


def history(conn: sqlite3.Connection, env: str | None = None, service: str | None = None,
            limit: int = 20) -> list[RolloutRow]:
    sql, args = "SELECT * FROM rollouts WHERE 1=1", []
    if env:
        sql += " AND env = ?"
        args.append(env)
    if service:
        sql += " AND service = ?"
        args.append(service)
    sql += " ORDER BY started DESC, rowid DESC LIMIT ?"
    args.append(limit)
    return [_row(r) for r in conn.execute(sql, args)]


def steps(conn: sqlite3.Connection, rollout_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM rollout_steps WHERE rollout_id = ? ORDER BY seq", (rollout_id,))
    return [{"seq": r["seq"], "at": r["at"], "phase": r["phase"], "action": r["action"],
             "detail": json.loads(r["detail"])} for r in rows]
