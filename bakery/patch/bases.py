"""Refresh base images for a patch run (I/O): once per base, and only when packages changed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import docker.errors

from bakery.engine.base import base_manifest, ensure_base, find_local, local_tag
from bakery.engine.client import engine
from bakery.packages import diff_manifests
from bakery.patch.decide import change_dicts, keep_previous_base


@dataclass
class BaseRefresh:
    ref: str
    image_id: str
    previous_id: str | None
    kept_previous: bool
    changes: list[dict[str, str | None]] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict:
        return {"ref": self.ref, "id": self.image_id, "previous_id": self.previous_id,
                "changed": self.previous_id != self.image_id, "changes": self.changes,
                "seconds": round(self.seconds, 2)}


def refresh_base(ref: str) -> BaseRefresh:
    """Re-bootstrap (or re-pull) ``ref``. When the package set is identical, the previous image
    keeps the tag and the fresh one is removed, so nothing built on the base changes name."""
    started = time.monotonic()
    previous = find_local(ref)
    old_manifest = base_manifest(ref) if previous else []
    fresh = ensure_base(ref, refresh=True)
    new_manifest = base_manifest(ref)
    if previous and fresh.image_id != previous and keep_previous_base(old_manifest, new_manifest):
        repository, _, tag = local_tag(ref).rpartition(":")
        engine().images.get(previous).tag(repository, tag)
        try:
            engine().images.remove(fresh.image_id)
        except docker.errors.APIError:
            pass  # in use by a concurrent build: it stays, untagged, for the engine to reclaim
        return BaseRefresh(ref, previous, previous, True, [], time.monotonic() - started)
    return BaseRefresh(ref, fresh.image_id, previous, False,
                       change_dicts(diff_manifests(old_manifest, new_manifest)),
                       time.monotonic() - started)
