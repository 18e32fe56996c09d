"""Copy every record from one store to another (`bakery state migrate --to URL`).

Idempotent: a record already in the target with the same content is skipped, so a second run
copies nothing; a record whose key is in the target with DIFFERENT content stops the copy
before anything is written (the target belongs to another history). Rows go over in their
insertion order and keep their ids, so history, images and verification records read the same
on the target. Locks are not copied: they belong to runs in flight on the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bakery.errors import StoreError
from bakery.store.db import Connection

#: table -> (key columns, insertion order on the source)
COPIED: dict[str, tuple[tuple[str, ...], str]] = {
    "builds": (("fingerprint",), "rowid"),
    "verifications": (("id",), "id"),
    "rollouts": (("id",), "rowid"),
    "rollout_steps": (("rollout_id", "seq"), "rollout_id, seq"),
    "rollout_samples": (("rollout_id", "seq"), "rollout_id, seq"),
    "patches": (("id",), "id"),
    "overrides": (("id",), "at, id"),  # issue 14
}
_IDENTITY = ("verifications", "patches")  # PostgreSQL identity columns to move past copied ids


@dataclass(frozen=True)
class Copied:
    table: str
    copied: int
    already: int


def _plain(row: Any) -> dict[str, Any]:
    # PostgreSQL rows carry the explicit rowid; it is the target's business, not a record field.
    return {k: row[k] for k in row.keys() if k != "rowid"}


def copy_all(source: Connection, target: Connection) -> list[Copied]:
    """Copy every record of ``source`` into ``target`` in one transaction on the target."""
    plan: list[tuple[str, list[dict[str, Any]]]] = []
    result: list[Copied] = []
    conflicts: list[str] = []
    for table, (keys, order) in COPIED.items():
        fresh, already = [], 0
        where = " AND ".join(f"{k} = ?" for k in keys)
        for row in source.execute(f"SELECT * FROM {table} ORDER BY {order}"):
            record = _plain(row)
            there = target.execute(f"SELECT * FROM {table} WHERE {where}",
                                   [record[k] for k in keys]).fetchone()
            if there is None:
                fresh.append(record)
            elif _plain(there) == record:
                already += 1
            else:
                conflicts.append(f"{table} {', '.join(str(record[k]) for k in keys)}")
        plan.append((table, fresh))
        result.append(Copied(table, len(fresh), already))
    if conflicts:
        shown = "; ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        raise StoreError(f"the target {target.url.display()} already holds different records under the "
                         f"same keys ({shown}); nothing was copied: it belongs to another history")
    with target.transaction():
        for table, rows in plan:
            for record in rows:
                columns = list(record)
                target.execute(f"INSERT INTO {table} ({', '.join(columns)}) "
                               f"VALUES ({', '.join('?' for _ in columns)})", [record[c] for c in columns])
        if target.dialect == "postgresql":
            for table in _IDENTITY:
                target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"GREATEST((SELECT MAX(id) FROM {table}), 1))")
    return result
