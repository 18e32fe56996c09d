"""Open the SQLite state store, creating it and its tables on first use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bakery.errors import StoreError


def _schemas() -> list[str]:
    # Imported here so that each table module stays independent of the others.
    from bakery.store import builds, verifications

    modules = [builds, verifications]
    for optional in ("locks", "journal", "patches"):
        try:
            modules.append(__import__(f"bakery.store.{optional}", fromlist=["SCHEMA"]))
        except ImportError:
            continue
    return [m.SCHEMA for m in modules]


def connect(path: Path) -> sqlite3.Connection:
    """A connection with WAL, foreign keys and a busy timeout; rows behave like dicts."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        for schema in _schemas():
            conn.executescript(schema)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the state store {path}: {exc}") from exc
    return conn
