"""Promotion by evidence (issue 14): which environments a fingerprint succeeded in, and the
requirements someone overrode with ``--force``, with who and why, for ``bakery history``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from bakery.model.records import new_id, now
from bakery.store.db import Connection


@dataclass(frozen=True)
class Override:
    id: str
    rollout_id: str | None
    env: str
    service: str
    fingerprint: str
    requirement: str  # in words: what was not met
    who: str
    reason: str
    at: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def succeeded_in(conn: Connection, env: str, fingerprint: str) -> bool:
    """Whether a rollout of ``fingerprint`` (any service) succeeded in ``env``."""
    row = conn.execute("SELECT 1 FROM rollouts WHERE env = ? AND fingerprint = ? AND kind = 'rollout'"
                       " AND status = 'succeeded' LIMIT 1", (env, fingerprint)).fetchone()
    return row is not None


def record(conn: Connection, env: str, service: str, fingerprint: str, requirement: str, who: str,
           reason: str) -> Override:
    """Recorded before the rollout changes anything; ``link`` adds its rollout id once known."""
    item = Override(new_id(), None, env, service, fingerprint, requirement, who, reason, now())
    conn.execute("INSERT INTO overrides (id, rollout_id, env, service, fingerprint, requirement, who,"
                 " reason, at) VALUES (?,?,?,?,?,?,?,?,?)",
                 (item.id, item.rollout_id, item.env, item.service, item.fingerprint, item.requirement,
                  item.who, item.reason, item.at))
    return item


def link(conn: Connection, override_id: str, rollout_id: str) -> None:
    conn.execute("UPDATE overrides SET rollout_id = ? WHERE id = ?", (rollout_id, override_id))


_FIELDS = tuple(f.name for f in fields(Override))


def for_rollouts(conn: Connection, rollout_ids: list[str]) -> dict[str, Override]:
    """The override each of these rollouts ran under, by rollout id."""
    if not rollout_ids:
        return {}
    marks = ",".join("?" for _ in rollout_ids)
    rows = conn.execute(f"SELECT * FROM overrides WHERE rollout_id IN ({marks})", rollout_ids)
    return {r["rollout_id"]: Override(**{k: r[k] for k in _FIELDS}) for r in rows}
