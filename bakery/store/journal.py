"""The rollout journal: one row per rollout (its history) and every step, written BEFORE it acts.

An interrupted rollout leaves status 'running'; the next run finds it here, then reads what
actually runs (engine labels, HAProxy state) to decide whether to unwind or finish it.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from bakery.model.records import RolloutRow, new_id, now
from bakery.store.db import Connection

__all__ = ["RolloutRow", "new_id", "now"]  # re-exported: callers of the journal use them


def begin(conn: Connection, row: RolloutRow) -> None:
    conn.execute(
        "INSERT INTO rollouts (id, env, service, kind, strategy, image_name, version, fingerprint, colour,"
        " prev_id, prev_version, prev_colour, status, started, finished, reason)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (row.id, row.env, row.service, row.kind, row.strategy, row.image_name, row.version,
         row.fingerprint, row.colour, row.prev_id, row.prev_version, row.prev_colour, row.status,
         row.started, row.finished, row.reason))


def step(conn: Connection, rollout_id: str, phase: str, action: str,
         detail: dict[str, Any] | None = None) -> int:
    """Append a step; call it before acting, so a crash leaves the intent on record."""
    seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollout_steps WHERE rollout_id = ?",
                       (rollout_id,)).fetchone()[0]
    conn.execute("INSERT INTO rollout_steps (rollout_id, seq, at, phase, action, detail)"
                 " VALUES (?,?,?,?,?,?)",
                 (rollout_id, seq, now(), phase, action, json.dumps(detail or {}, sort_keys=True)))
    return seq


def finish(conn: Connection, rollout_id: str, status: str, reason: str = "") -> None:
    conn.execute("UPDATE rollouts SET status = ?, finished = ?, reason = ? WHERE id = ?",
                 (status, now(), reason, rollout_id))


_FIELDS = tuple(f.name for f in fields(RolloutRow))


def _row(r: Any) -> RolloutRow:
    # By name: PostgreSQL rows also carry the explicit rowid column.
    return RolloutRow(**{k: r[k] for k in _FIELDS})


def get(conn: Connection, rollout_id: str) -> RolloutRow | None:
    r = conn.execute("SELECT * FROM rollouts WHERE id = ?", (rollout_id,)).fetchone()
    return _row(r) if r else None


def unfinished(conn: Connection, env: str, service: str) -> list[RolloutRow]:
    rows = conn.execute("SELECT * FROM rollouts WHERE env = ? AND service = ? AND status = 'running'"
                        " ORDER BY started", (env, service))
    return [_row(r) for r in rows]


def history(conn: Connection, env: str | None = None, service: str | None = None,
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


def steps(conn: Connection, rollout_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM rollout_steps WHERE rollout_id = ? ORDER BY seq", (rollout_id,))
    return [{"seq": r["seq"], "at": r["at"], "phase": r["phase"], "action": r["action"],
             "detail": json.loads(r["detail"])} for r in rows]
