"""Patch records: one row per image per `bakery patch` run, with its package changelog."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bakery.store.db import Connection


@dataclass(frozen=True)
class PatchRecord:
    """``new_version`` and ``new_fingerprint`` are None when the image was up to date."""

    run_id: str
    name: str
    status: str
    created: str
    old_version: str | None = None
    old_fingerprint: str | None = None
    new_version: str | None = None
    new_fingerprint: str | None = None
    changes: list[dict[str, str | None]] = field(default_factory=list)
    verification: dict[str, Any] | None = None
    rollout: list[dict[str, Any]] | None = None
    error: str | None = None
    id: int | None = None


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def record(conn: Connection, rec: PatchRecord) -> int:
    cur = conn.execute(
        "INSERT INTO patches (run_id, name, status, old_version, old_fingerprint, new_version,"
        " new_fingerprint, changes, verification, rollout, error, created)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
        (rec.run_id, rec.name, rec.status, rec.old_version, rec.old_fingerprint, rec.new_version,
         rec.new_fingerprint, json.dumps(rec.changes), _dump(rec.verification), _dump(rec.rollout),
         rec.error, rec.created),
    )
    return int(cur.fetchall()[0][0])  # fetched to the end: SQLite finishes the statement


def _from_row(row: Any) -> PatchRecord:
    def load(text: str | None) -> Any:
        return None if text is None else json.loads(text)

    return PatchRecord(
        run_id=row["run_id"], name=row["name"], status=row["status"], created=row["created"],
        old_version=row["old_version"], old_fingerprint=row["old_fingerprint"],
        new_version=row["new_version"], new_fingerprint=row["new_fingerprint"],
        changes=json.loads(row["changes"]), verification=load(row["verification"]),
        rollout=load(row["rollout"]), error=row["error"], id=row["id"],
    )


def history(conn: Connection, name: str | None = None, limit: int = 50) -> list[PatchRecord]:
    """Patch records, newest first (of one image, or of all)."""
    if name is None:
        rows = conn.execute("SELECT * FROM patches ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = conn.execute("SELECT * FROM patches WHERE name = ? ORDER BY id DESC LIMIT ?",
                            (name, limit))
    return [_from_row(r) for r in rows]


def versions(conn: Connection, name: str) -> list[str]:
    """Every patch version ever handed out for ``name`` (so a number is never reused for a kept image)."""
    rows = conn.execute("SELECT new_version FROM patches WHERE name = ? AND new_version IS NOT NULL",
                        (name,))
    return [r["new_version"] for r in rows]
