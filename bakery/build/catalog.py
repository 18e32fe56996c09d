"""What has been built, for `bakery images` and `bakery diff`: build records joined with the
engine's view (size, tags) and the latest verification of each fingerprint."""

from __future__ import annotations

from typing import Any

import docker.errors

from bakery.engine.client import engine
from bakery.errors import UsageError
from bakery.packages import PackageChange, diff_manifests
from bakery.project import Project
from bakery.store import builds, verifications
from bakery.store.db import open_store


def verification_state(rec: verifications.VerificationRecord | None) -> str:
    if rec is None:
        return "not verified"
    return "passed" if rec.passed else "failed"


def engine_state(name: str, version: str, tags: list[str], in_engine: bool) -> str:
    """"tagged" when bakery/<name>:<version> points at this build, "fp tag" when only its
    fingerprint tag does (a later build of the same version took the version tag)."""
    if not in_engine:
        return "gone"
    return "tagged" if f"bakery/{name}:{version}" in tags else "fp tag"


def _engine_facts(image_id: str) -> tuple[int | None, list[str]]:
    """Size and tags from the engine; (None, []) when the image is gone."""
    try:
        image = engine().images.get(image_id)
    except docker.errors.ImageNotFound:
        return None, []
    return image.attrs.get("Size"), list(image.tags)


def image_rows(project: Project, names: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One row per build (newest first per name), with engine facts and verification state."""
    conn = open_store(project)
    try:
        rows = []
        for rec in builds.all_builds(conn):
            if names and rec.name not in names:
                continue
            size, tags = _engine_facts(rec.image_id)
            check = verifications.latest(conn, rec.fingerprint)
            rows.append({
                "name": rec.name, "version": rec.version, "fingerprint": rec.fingerprint,
                "image_id": rec.image_id, "size": size, "created": rec.created,
                "verification": verification_state(check),
                "verification_detail": verifications.summary(check), "in_engine": size is not None,
                "tags": sorted(tags), "packages": len(rec.manifest), "sbom": rec.sbom_path,
                "engine_state": engine_state(rec.name, rec.version, sorted(tags), size is not None),
            })
        return rows
    finally:
        conn.close()


def diff_builds(project: Project, name: str, old: str, new: str
                ) -> tuple[builds.BuildRecord, builds.BuildRecord, list[PackageChange]]:
    """The two builds (each a version or fp-<fingerprint prefix>) and their package changes."""
    conn = open_store(project)
    try:
        found = []
        for ref in (old, new):
            rec = builds.resolve(conn, name, ref)
            if rec is None:
                known = ", ".join(builds.versions(conn, name)) or "none"
                raise UsageError(f"no build of {name} matches {ref!r} (built versions: {known}); "
                                 "give a version or fp-<fingerprint prefix>")
            found.append(rec)
    finally:
        conn.close()
    before, after = found
    return before, after, diff_manifests(list(before.manifest), list(after.manifest))
