"""What a store holds (`bakery state show`) and what is wrong with it (`bakery state check`).

``check`` never creates or changes anything: a SQLite file is opened read-only, so checking a
missing store does not make an empty one. Each finding says what is wrong and how to restore.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakery.errors import StoreError
from bakery.store import migrations
from bakery.store.db import Connection, connect, marker_path, schema_version
from bakery.store.url import StateURL

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Finding:
    problem: str
    remedy: str


def show(conn: Connection) -> dict[str, Any]:
    """Backend, where, schema version and how many records of each kind."""
    counts = {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in migrations.TABLES}
    applied = [{"version": r["version"], "name": r["name"], "applied": r["applied"]}
               for r in conn.execute("SELECT * FROM schema_migrations ORDER BY version")]
    return {"backend": conn.dialect, "url": conn.url.display(), "schema_version": schema_version(conn),
            "known_schema_version": migrations.LATEST, "counts": counts, "migrations": applied}


def _sqlite_restore(path: Path) -> str:
    marker = marker_path(path)
    return (f"restore {path} from a backup (stop bakery first; remove {path.name}-wal and "
            f"{path.name}-shm beside it). To salvage what is readable: `sqlite3 {path} .recover | "
            f"sqlite3 {path.with_name('recovered.db')}` (Debian package sqlite3), check the result with "
            f"BAKERY_STATE=sqlite://{path.with_name('recovered.db')} bakery state check, then move it in "
            f"place. To start an empty store on purpose (history, verification records and locks are "
            f"lost): move {path.name} and {marker.name} aside")


def check_sqlite(path: Path) -> list[Finding]:
    marker = marker_path(path)
    if not path.exists():
        if marker.exists():
            return [Finding(f"{path} is missing, but {marker.name} says a store was initialised here",
                            _sqlite_restore(path))]
        return []  # nothing yet: the first command that needs it creates it
    if path.stat().st_size == 0:
        return [Finding(f"{path} is empty (0 bytes): its records are gone", _sqlite_restore(path))]
    findings = []
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    if not writable:
        findings.append(Finding(f"{path} or its folder is not writable by this user: bakery cannot "
                                "record builds, verifications or rollouts",
                                f"make {path} and {path.parent} writable (chmod u+w, or chown to this "
                                "user)"))
    with path.open("rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        return findings + [Finding(f"{path} is not a SQLite database (its header is wrong)",
                                   _sqlite_restore(path))]
    try:
        # Without write access SQLite cannot make the WAL index; read the file as it is on disk.
        raw = sqlite3.connect(f"file:{path}?mode=ro" + ("" if writable else "&immutable=1"), uri=True)
        try:
            result = [r[0] for r in raw.execute("PRAGMA integrity_check").fetchall()]
            tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = 0
            if "schema_migrations" in tables:
                version = raw.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
        finally:
            raw.close()
    except sqlite3.Error as exc:
        damaged = any(w in str(exc) for w in ("malformed", "not a database", "corrupt"))
        what = "is damaged" if damaged else "cannot be read"
        return findings + [Finding(f"{path} {what}: {exc}", _sqlite_restore(path))]
    if result != ["ok"]:
        detail = "; ".join(result[:3]) + (" ..." if len(result) > 3 else "")
        findings.append(Finding(f"{path} is damaged: {detail}", _sqlite_restore(path)))
    elif version > migrations.LATEST:
        findings.append(_newer(version))
    return findings


def _newer(version: int) -> Finding:
    return Finding(f"the store has schema version {version}, newer than this bakery knows "
                   f"({migrations.LATEST})", "upgrade bakery; an older one must not write to it")


def check_postgresql(url: StateURL) -> list[Finding]:
    try:
        conn = connect(url)
    except StoreError as exc:
        if "newer than this bakery" in str(exc):
            return [Finding(str(exc), "upgrade bakery")]
        return [Finding(str(exc), "check the URL (BAKERY_STATE or state: in bakery.yaml), that the "
                                  "server runs and that this user may log in (PGPASSWORD, ~/.pgpass)")]
    conn.close()
    return []


def check(url: StateURL) -> list[Finding]:
    """Everything wrong with the store at ``url`` (empty when it is healthy)."""
    if url.is_postgresql:
        return check_postgresql(url)
    assert url.path is not None
    return check_sqlite(url.path)
