"""Records the store keeps and the rollout core reads: plain values, no SQLite here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bakery.packages import Package


def now() -> str:
    """A journal timestamp: UTC, microseconds, sortable as text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    """A rollout id: sortable by start time, unique enough for one project's history."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class RolloutRow:
    id: str
    env: str
    service: str
    kind: str
    strategy: str
    image_name: str
    version: str
    fingerprint: str
    colour: str
    prev_id: str | None
    prev_version: str | None
    prev_colour: str | None
    status: str
    started: str
    finished: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BuildRecord:
    """One build: the image its fingerprint names, and what went into it."""

    fingerprint: str
    name: str
    version: str
    image_id: str
    created: str
    base_id: str = ""
    manifest: tuple[Package, ...] = ()
    definition: dict[str, Any] | None = None
    sbom_path: str | None = None

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:12]
