"""What a rollout starts from: the build it rolls out, proof it was verified, secret values,
and the load balancer's own (verified) image. Each refuses before anything changes."""

from __future__ import annotations

import os

from bakery.build.docker_builder import build
from bakery.build.fingerprint import fingerprint_tag
from bakery.definitions import names
from bakery.definitions.rollout import RolloutDefinition
from bakery.errors import RolloutError, UsageError
from bakery.project import Project
from bakery.rollout.ports import Runtime, Sink
from bakery.store import builds, verifications
from bakery.store.db import open_store
from bakery.verify.runner import verify


def resolve_target(project: Project, defn: RolloutDefinition, image: str | None,
                   runtime: Runtime) -> builds.BuildRecord:
    """--image VERSION, --image NAME:VERSION, the definition's pinned version, or the newest build."""
    name, version = defn.image_name, defn.image_version
    if image:
        ref_name, version = names.image_ref(image)  # bad input (exit 2) before any look-up
        name = ref_name or name
    conn = open_store(project)
    try:
        found = builds.find(conn, name, version)
    finally:
        conn.close()
    what = f"{name} {version}" if version else name
    if not found:
        raise UsageError(f"no build of {what} in this project; run `bakery build {name}` first"
                         + (f" (with version: {version} in images/{name}/image.yaml)" if version else ""))
    rec = found[0]
    tag = fingerprint_tag(rec.name, rec.fingerprint)
    # An engine that does not answer raises EngineError here, which says so (not "run build").
    if not runtime.image_present(tag):
        raise RolloutError(f"the image {tag} recorded for {what} is not in the engine any more; "
                           f"run `bakery build {name}`")
    return rec


def require_verified(project: Project, rec: builds.BuildRecord) -> None:
    """Invariant 3: no rollout uses an image that has not passed verification."""
    conn = open_store(project)
    try:
        ok = verifications.is_verified(conn, rec.fingerprint)
        last = verifications.latest(conn, rec.fingerprint)
    finally:
        conn.close()
    if not ok:
        state = "failed its last verification" if last else "has not passed verification"
        raise RolloutError(f"{rec.name} {rec.version} (fp-{rec.short_fingerprint}) {state}; "
                           f"run `bakery verify {rec.name}:{rec.version}` first")


def resolve_secrets(defn: RolloutDefinition) -> dict[str, str]:
    """Values from BAKERY_SECRET_<NAME>; a missing one stops everything before any change."""
    missing = [n for n in defn.secrets if f"BAKERY_SECRET_{n}" not in os.environ]
    if missing:
        raise UsageError(f"{defn.path}: secrets: no value for {', '.join(missing)}; set "
                         + ", ".join(f"BAKERY_SECRET_{n}" for n in missing) + " in the environment")
    return {n: os.environ[f"BAKERY_SECRET_{n}"] for n in defn.secrets}


def verified_lb_image(project: Project, emit: Sink) -> str:
    """The load balancer's image, built on demand and, like every image that serves traffic,
    verified before use (invariant 3); a verification already recorded is not repeated."""
    defn = project.load_image("lb")
    outcome = build(project, defn, on_event=lambda kind, data: emit("build", {"kind": kind, **data})
                    if kind == "step" else None)
    rec = outcome.record
    conn = open_store(project)
    try:
        verified = verifications.is_verified(conn, rec.fingerprint)
    finally:
        conn.close()
    if not verified:
        emit("info", {"text": f"verifying the load balancer image lb {rec.version} "
                              f"(fp-{rec.short_fingerprint})"})
        report = verify(project, rec.name, rec.version, fingerprint=rec.fingerprint)
        if not report.passed:
            raise RolloutError(f"the load balancer image lb {rec.version} failed verification; "
                               f"see `bakery verify lb:{rec.version}`")
    return rec.image_id
