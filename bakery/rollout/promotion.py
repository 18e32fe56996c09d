"""Promotion by evidence (issue 14): an environment accepts a fingerprint only once it was
rolled out successfully where ``requires: {succeeded_in: [...]}`` names; ``--force --reason``
overrides, and who and why are recorded before anything changes (``bakery history`` shows it).
"""

from __future__ import annotations

import getpass
import os
import socket

from bakery.definitions.rollout import RolloutDefinition
from bakery.errors import RolloutError, UsageError
from bakery.project import Project
from bakery.store import builds, overrides
from bakery.store.db import open_store


def unmet(project: Project, defn: RolloutDefinition, rec: builds.BuildRecord) -> list[str]:
    """The environments named by ``requires.succeeded_in`` where ``rec`` never succeeded."""
    wanted = defn.requires.succeeded_in
    if not wanted:
        return []
    conn = open_store(project)
    try:
        return [env for env in wanted if not overrides.succeeded_in(conn, env, rec.fingerprint)]
    finally:
        conn.close()


def who() -> str:
    """Who overrides: BAKERY_ACTOR when set (a CI job names its person), else user@host."""
    if actor := os.environ.get("BAKERY_ACTOR"):
        return actor
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def requirement_text(rec: builds.BuildRecord, missing: list[str]) -> str:
    return (f"{rec.name} {rec.version} (fp-{rec.fingerprint[:12]}) has no successful rollout in "
            + ", ".join(missing))


def check(project: Project, defn: RolloutDefinition, rec: builds.BuildRecord,
          force_reason: str | None) -> str | None:
    """None when the requirement is met; the unmet requirement in words when ``force_reason``
    overrides it; otherwise RolloutError naming the environment(s), before any change."""
    if force_reason is not None and not force_reason.strip():
        raise UsageError("--force needs --reason TEXT: why the requirement is overridden is recorded")
    missing = unmet(project, defn, rec)
    if not missing:
        return None
    text = requirement_text(rec, missing)
    if force_reason is None:
        raise RolloutError(f"{defn.environment} requires a successful rollout in {', '.join(missing)} "
                           f"first: {text}; roll it out there first, or override with --force --reason TEXT")
    return text


def record(project: Project, defn: RolloutDefinition, rec: builds.BuildRecord, requirement: str,
           reason: str) -> overrides.Override:
    conn = open_store(project)
    try:
        return overrides.record(conn, defn.environment, defn.service, rec.fingerprint, requirement, who(),
                                reason)
    finally:
        conn.close()


def link(project: Project, override: overrides.Override, rollout_id: str) -> None:
    conn = open_store(project)
    try:
        overrides.link(conn, override.id, rollout_id)
    finally:
        conn.close()
