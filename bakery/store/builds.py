"""Build records: one row per image fingerprint, with its package manifest."""

from __future__ import annotations

import json
from typing import Any

from bakery.model.records import BuildRecord
from bakery.packages import Package
from bakery.store.db import Connection

__all__ = ["BuildRecord"]  # re-exported: the store reads and writes these


def record(conn: Connection, rec: BuildRecord) -> None:
    """Insert or replace the build of this fingerprint (a replaced one sorts as the newest)."""
    with conn.transaction():
        conn.execute("DELETE FROM builds WHERE fingerprint = ?", (rec.fingerprint,))
        conn.execute(
            "INSERT INTO builds (fingerprint, name, version, image_id, created, base_id,"
            " manifest, definition, sbom_path) VALUES (?,?,?,?,?,?,?,?,?)",
            (rec.fingerprint, rec.name, rec.version, rec.image_id, rec.created, rec.base_id,
             json.dumps([p.as_dict() for p in rec.manifest]), json.dumps(rec.definition or {}),
             rec.sbom_path),
        )


def _from_row(row: Any) -> BuildRecord:
    return BuildRecord(
        fingerprint=row["fingerprint"], name=row["name"], version=row["version"],
        image_id=row["image_id"], created=row["created"], base_id=row["base_id"],
        manifest=tuple(Package(p["name"], p["version"], p["arch"])
                       for p in json.loads(row["manifest"])),
        definition=json.loads(row["definition"]), sbom_path=row["sbom_path"],
    )


def get(conn: Connection, fingerprint: str) -> BuildRecord | None:
    row = conn.execute("SELECT * FROM builds WHERE fingerprint = ?", (fingerprint,)).fetchone()
    return _from_row(row) if row else None


def find(conn: Connection, name: str, version: str | None = None) -> list[BuildRecord]:
    """Builds of ``name`` (optionally one version), newest first."""
    if version is None:
        rows = conn.execute("SELECT * FROM builds WHERE name = ? ORDER BY created DESC, rowid DESC",
                            (name,))
    else:
        rows = conn.execute("SELECT * FROM builds WHERE name = ? AND version = ? "
                            "ORDER BY created DESC, rowid DESC", (name, version))
    return [_from_row(r) for r in rows]


def all_builds(conn: Connection) -> list[BuildRecord]:
    rows = conn.execute("SELECT * FROM builds ORDER BY name, created DESC, rowid DESC")
    return [_from_row(r) for r in rows]


def resolve(conn: Connection, name: str, ref: str) -> BuildRecord | None:
    """A build of ``name`` by version (the newest build of it) or by ``fp-<prefix>`` of its fingerprint."""
    if ref.startswith("fp-") and len(ref) > 3:
        rows = conn.execute("SELECT * FROM builds WHERE name = ? AND fingerprint LIKE ? "
                            "ORDER BY created DESC, rowid DESC", (name, ref[3:] + "%")).fetchall()
        return _from_row(rows[0]) if len(rows) == 1 else None
    found = find(conn, name, ref)
    return found[0] if found else None


def versions(conn: Connection, name: str) -> list[str]:
    rows = conn.execute("SELECT version FROM builds WHERE name = ? GROUP BY version "
                        "ORDER BY MIN(created)", (name,))
    return [r["version"] for r in rows]
