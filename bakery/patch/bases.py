"""Refresh base images for a patch run (I/O): once per base, and only when packages changed.

With a probe (probe.py), a base whose packages have no pending upgrade is not re-bootstrapped
at all: mmdebstrap would make the same package set, which refresh_base then throws away."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import docker.errors

from bakery.engine.base import base_manifest, ensure_base, find_local, local_tag
from bakery.engine.client import engine
from bakery.model.events import Sink
from bakery.packages import diff_manifests
from bakery.patch.decide import change_dicts, keep_previous_base
from bakery.patch.pending import describe
from bakery.patch.probe import ProbeError, Prober


@dataclass
class BaseRefresh:
    ref: str
    image_id: str
    previous_id: str | None
    kept_previous: bool
    changes: list[dict[str, str | None]] = field(default_factory=list)
    seconds: float = 0.0
    probed: bool = False  # the probe found nothing pending: no re-bootstrap was made

    def as_json(self) -> dict:
        return {"ref": self.ref, "id": self.image_id, "previous_id": self.previous_id,
                "changed": self.previous_id != self.image_id, "changes": self.changes,
                "seconds": round(self.seconds, 2), "probed": self.probed}


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


def refresh_unless_current(ref: str, prober: Prober | None, emit: Sink) -> BaseRefresh:
    """refresh_base, unless ``prober`` shows the local base has no pending upgrade.

    Without a local base, or when the probe cannot answer, the base is refreshed as before."""
    previous = find_local(ref) if prober is not None else None
    if prober is None or previous is None:
        return refresh_base(ref)
    started = time.monotonic()
    try:
        verdict = prober.base(ref, base_manifest(ref))
    except (ProbeError, docker.errors.DockerException) as exc:
        emit("info", {"image": ref, "text": f"probe failed ({exc}); refreshing the base"})
        return refresh_base(ref)
    if not verdict.up_to_date:
        emit("info", {"image": ref, "text": f"probe: {describe(verdict)}; refreshing the base"})
        return refresh_base(ref)
    emit("info", {"image": ref, "text": f"probe: {describe(verdict)}; base kept, no re-bootstrap"})
    return BaseRefresh(ref, previous, previous, True, [], time.monotonic() - started, probed=True)
