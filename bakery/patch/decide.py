"""What a patch run decides, apart from doing it. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bakery.model.environments import is_production
from bakery.packages import Package, PackageChange, diff_manifests
from bakery.patch import versions
from bakery.store.builds import BuildRecord

__all__ = ["is_production"]  # re-exported for patch.runner

PATCHED = "patched"
UP_TO_DATE = "up to date"
FAILED = "failed"


def choose_baseline(records: Iterable[BuildRecord], definition_version: str,
                    verified: set[str]) -> BuildRecord | None:
    """The current image: the newest build of this definition version.

    A patched build counts only once it passed verification; a failed patch must not
    become the yardstick that makes the next run say "up to date".
    ``records`` come newest first (``builds.find``).
    """
    for rec in records:
        try:
            if versions.base_version(rec.version) != definition_version:
                continue
            patched = versions.is_patch(rec.version)
        except ValueError:
            continue
        if patched and rec.fingerprint not in verified:
            continue
        return rec
    return None


def without_version(definition: dict[str, Any] | None) -> dict[str, Any]:
    """The definition as stored (a JSON round trip turns tuples into lists), minus its version."""
    stored = json.loads(json.dumps(definition or {}, sort_keys=True, default=str))
    return {k: v for k, v in stored.items() if k != "version"}


def definition_drifted(recorded: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """True when image.yaml changed (beyond the version) since the baseline was built."""
    if not recorded:
        return False  # an old record without its definition: nothing to compare
    return without_version(recorded) != without_version(current)


def change_dicts(changes: Iterable[PackageChange]) -> list[dict[str, str | None]]:
    return [{"name": c.name, "old": c.old, "new": c.new} for c in changes]


@dataclass
class PatchResult:
    """One image's outcome; ``as_json`` is the shape of `bakery patch --json`."""

    name: str
    status: str
    old_version: str | None = None
    old_fingerprint: str | None = None
    new_version: str | None = None
    new_fingerprint: str | None = None
    changes: list[dict[str, str | None]] = field(default_factory=list)
    verification: dict[str, Any] | None = None
    rollout: list[dict[str, Any]] | None = None
    stage: str | None = None  # where a failure happened: baseline, build, verify, rollout
    error: str | None = None
    probe: str | None = None  # what the probe said (None: not probed, e.g. --rebuild)

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "old_version": self.old_version,
            "old_fingerprint": self.old_fingerprint,
            "new_version": UP_TO_DATE if self.status == UP_TO_DATE else self.new_version,
            "new_fingerprint": self.new_fingerprint,
            "changes": self.changes,
            "verification": self.verification,
            "rollout": self.rollout,
            "stage": self.stage,
            "error": self.error,
            "probe": self.probe,
        }


def report(run_id: str, results: list[PatchResult], bases: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run": run_id,
        "changed": any(r.status == PATCHED for r in results),
        "failed": any(r.failed for r in results),
        "bases": bases,
        "images": [r.as_json() for r in results],
    }


def format_change(change: dict[str, str | None]) -> str:
    if change["old"] is None:
        return f"+ {change['name']} {change['new']}"
    if change["new"] is None:
        return f"- {change['name']} {change['old']}"
    return f"{change['name']} {change['old']} -> {change['new']}"


def keep_previous_base(old: list[Package], new: list[Package]) -> bool:
    """A re-bootstrapped base with the same packages is not a new base: keep the old image,
    so every fingerprint built on it stays valid and `bakery build` stays a no-op."""
    return bool(old) and not diff_manifests(old, new)
