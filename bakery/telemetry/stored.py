"""A finished (or running) rollout as the state store holds it: journal row, steps, telemetry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakery.errors import UsageError
from bakery.store import journal, samples
from bakery.store.db import connect


@dataclass(frozen=True)
class StoredRollout:
    row: journal.RolloutRow
    previous: journal.RolloutRow | None  # the rollout that was live before, for its fingerprint
    steps: list[dict[str, Any]]
    samples: list[samples.Sample]


def report_path(state_dir: Path, rollout_id: str) -> Path:
    """Where a rollout's report is written by default (``.bakery/reports/<id>.html``)."""
    return state_dir / "reports" / f"{rollout_id}.html"


def resolve(db_path: Path, ref: str, env: str | None) -> str:
    """A rollout id as given, or the newest rollout of service ``ref`` in ``env``."""
    conn = connect(db_path)
    try:
        row = journal.get(conn, ref)
        if row is not None:
            if env and row.env != env:
                raise UsageError(f"rollout {ref} is of {row.service} in {row.env}, not in {env}")
            return row.id
        if not env:
            raise UsageError(f"no rollout with id {ref!r}; to name a service, add --env ENV")
        rows = journal.history(conn, env, ref, limit=1)
    finally:
        conn.close()
    if not rows:
        raise UsageError(f"no rollout id or service {ref!r} with rollouts in {env}; "
                         f"see `bakery history --env {env}`")
    return rows[0].id


def load(db_path: Path, rollout_id: str) -> StoredRollout:
    conn = connect(db_path)
    try:
        row = journal.get(conn, rollout_id)
        if row is None:
            raise UsageError(f"no rollout with id {rollout_id!r}")
        previous = journal.get(conn, row.prev_id) if row.prev_id else None
        return StoredRollout(row, previous, journal.steps(conn, rollout_id), samples.load(conn, rollout_id))
    finally:
        conn.close()
