"""verify(): pick the build, start the throwaway container, run the checks, record the result.

This is the gate of invariant 3: the rollout refuses an image whose latest verification
(recorded here against its fingerprint) did not pass.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker.errors

from bakery import RECIPE_VERSION
from bakery.build import fingerprint as fpmod
from bakery.build.docker_builder import build
from bakery.definitions import versions
from bakery.definitions.image import ImageDefinition
from bakery.engine.base import find_local
from bakery.engine.client import engine
from bakery.errors import BakeryError, StoreError, UsageError, VerifyError
from bakery.evidence.record import record_latest_verification
from bakery.model.events import Sink, quiet
from bakery.project import Project
from bakery.store import builds, verifications
from bakery.store.db import open_store
from bakery.verify import junit, suites
from bakery.verify.container import Throwaway, interrupts_raise
from bakery.verify.context import VerifyContext
from bakery.verify.model import ERROR, CheckResult, VerifyReport, redact_check
from bakery.verify.reaper import reap
from bakery.verify.session import TEST_TIMEOUT, Checks

# on_event(kind, {"text": ...}): kind is "info", "build", "warning", or "passed" / "failed" /
# "skipped" / "error" for a check; the one event shape (model/events.py).
EventSink = Sink


def parse_ref(ref: str) -> tuple[str, str | None]:
    """NAME or NAME:VERSION; VERSION may be spelt as its Docker tag (1.0.0_patch.2)."""
    name, sep, version = ref.partition(":")
    if not name or (sep and not version):
        raise UsageError(f"{ref!r}: expected NAME or NAME:VERSION")
    if version:
        version = versions.from_docker_tag(version)
        if not versions.is_version(version):
            raise UsageError(f"{ref!r}: {version!r} is not a version (like 1.2.3 or 1.2.3+patch.1)")
    return name, version or None


def _normal(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=list)


def current_fingerprint(defn: ImageDefinition) -> str | None:
    """The fingerprint `bakery build` would give the definition now, when the base is local."""

    try:
        base_id = find_local(defn.base)
        if base_id is None:
            return None
        return fpmod.fingerprint(defn, fpmod.file_digests(defn), base_id, RECIPE_VERSION)
    except (OSError, ValueError, docker.errors.DockerException):
        return None


def choose(records: list[builds.BuildRecord], current_fp: str | None) -> builds.BuildRecord | None:
    """Of a name's builds (newest first), the one of the current definition, else the newest. Pure."""
    for record in records:
        if record.fingerprint == current_fp:
            return record
    return records[0] if records else None


def select_build(project: Project, defn: ImageDefinition, version: str | None, emit: EventSink,
                 fingerprint: str | None = None) -> builds.BuildRecord:
    """The build to verify.

    - ``fingerprint``: exactly that build.
    - ``version``: the newest build of that version.
    - neither: the build of the definition as it is now, else the newest build (with a note).
    A name never built is built first (it is the definition's current version); an unknown
    old version is a UsageError: bakery cannot rebuild the past."""
    conn = open_store(project)
    try:
        if fingerprint is not None:
            record = builds.get(conn, fingerprint)
            if record is None or record.name != defn.name:
                raise UsageError(f"no build of {defn.name} with fingerprint {fingerprint[:12]} "
                                 "is recorded; run `bakery build " + defn.name + "`")
            return record
        records = builds.find(conn, defn.name, version)
        known = sorted({r.version for r in builds.find(conn, defn.name)})
    finally:
        conn.close()
    if records:
        current = current_fingerprint(defn) if version is None else None
        record = choose(records, current)
        assert record is not None
        if version is None and current is not None and record.fingerprint != current:
            emit("info", {"text": f"note: images/{defn.name}/image.yaml changed since its newest build; "
                         f"run `bakery build {defn.name}` to verify the change"})
        return record
    if version is None or version == defn.version:
        emit("info", {"text": f"{defn.name} {defn.version} has no build yet: building it first"})
        return build(project, defn, on_event=lambda kind, data: emit("build", data)
                     if kind in ("step", "info") else None).record
    raise UsageError(f"no build of {defn.name} {version} is recorded "
                     f"(known versions: {', '.join(known) or 'none'}); "
                     f"check out that version and run `bakery build {defn.name}`")


def _ensure_image(record: builds.BuildRecord) -> None:
    try:
        engine().images.get(record.image_id)
    except docker.errors.ImageNotFound:
        raise VerifyError(f"the image of {record.name} {record.version} "
                          f"(fp-{record.short_fingerprint}) is no longer in the engine; "
                          f"run `bakery build {record.name}` again") from None


def declared_packages(definition: dict[str, Any], record: builds.BuildRecord) -> dict[str, str]:
    """Declared package name -> the version the build recorded ("" when it recorded none). Pure."""
    recorded = {p.name: p.version for p in record.manifest}
    names = [p.split("=", 1)[0] for p in definition.get("packages") or []]
    return {name: recorded.get(name, "") for name in names}


def make_test_secrets(names: list[str]) -> dict[str, str]:
    """Random, recognisable test values for declared secrets (never real ones)."""
    return {name: f"bakery-test-{name.lower()}-{secrets.token_hex(12)}" for name in names}


def verify(project: Project, name: str, version: str | None = None, *,
           junit_path: Path | None = None, on_event: EventSink | None = None,
           fingerprint: str | None = None, test_timeout: float = TEST_TIMEOUT) -> VerifyReport:
    """Verify a build of ``name`` (see select_build for which) and record the result against
    its fingerprint. Returns the report whether it passed or not; raises only when the
    verification could not run (UsageError, EngineError, VerifyError).

    ``test_timeout``: seconds each check may take before it fails as hung."""
    emit = on_event or quiet
    defn = project.load_image(name)
    try:
        reaped = reap(engine())  # what an earlier run killed with SIGKILL left behind
    except docker.errors.DockerException as exc:  # housekeeping must not stop the verification
        emit("info", {"text": f"could not look for leftovers of killed verifications: {exc}"})
    else:
        if reaped:
            emit("info", {"text": str(reaped)})
    record = select_build(project, defn, version, emit, fingerprint)
    _ensure_image(record)
    definition = record.definition or json.loads(_normal(defn.normalised()))
    run_id = secrets.token_hex(4)
    secret_values = make_test_secrets(list(definition.get("secrets") or []))
    image_ref = fpmod.fingerprint_tag(record.name, record.fingerprint)
    report = VerifyReport(record.name, record.version, record.fingerprint, image_ref, record.image_id,
                          datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    started = time.monotonic()
    emit("info", {"text": f"verifying {record.name} {record.version} ({image_ref})"})
    for warning in suites.warnings(defn.folder):
        report.warnings.append(str(warning))
        emit("warning", {"text": str(warning)})

    def on_check(check: CheckResult) -> None:
        emit(check.outcome, {"text": f"{check.name} ({check.duration:.2f}s)"})

    ctx = VerifyContext(
        container_id="", container_name="", ip="",  # known once the container runs: go()
        name=record.name, version=record.version, fingerprint=record.fingerprint,
        image_id=record.image_id, image_folder=str(defn.folder), definition=definition,
        packages=declared_packages(definition, record), results_path="",
        secret_values=secret_values)
    hc = definition.get("healthcheck")
    # The checks' child starts first: it imports pytest and testinfra and collects the checks
    # while the container starts, then waits for go() with the container and its health.
    with interrupts_raise(), Checks(ctx, test_timeout=test_timeout) as checks, \
            Throwaway(record.image_id, record.name, run_id, secret_values, emit, hc) as box:
        emit("info", {"text": "waiting for the health check" if hc else "waiting for the container"})
        health = box.wait(hc)
        emit("info", {"text": f"container {health.state} after {time.monotonic() - started:.1f}s"
             + (f" ({health.detail})" if health.detail and health.state != "healthy" else "")})
        if health.state == "exited":
            check = CheckResult(
                "container keeps running", False, time.monotonic() - started,
                f"the container exited with code {health.exit_code} before the checks could run",
                command=" ".join(definition.get("entrypoint") or []) + " "
                + " ".join(definition.get("cmd") or []),
                output=health.log_tail, outcome=ERROR, group="setup")
            report.checks.append(check)
            on_check(check)
        else:
            assert box.container is not None
            ctx.container_id, ctx.container_name, ctx.ip = box.container.id, box.container_name, box.ip
            checks.go(health.state)
            report.checks.extend(checks.finish(on_check))
    report.duration = time.monotonic() - started
    for check in report.checks:
        redact_check(check, list(secret_values.values()))
    record_report(project, report)
    if junit_path is not None:
        junit.write(junit_path, [suite(report)])
    try:  # signed evidence of the verification, when the project has a signing key
        record_latest_verification(project, report.fingerprint, junit_path)
    except BakeryError as exc:
        emit("warning", {"text": f"the verification attestation was not written: {exc}"})
    return report


def suite(report: VerifyReport) -> junit.Suite:
    return junit.Suite(f"bakery verify {report.name}:{report.version}", report.checks,
                       classname=report.name)


def record_report(project: Project, report: VerifyReport) -> None:
    """Record the result against its fingerprint. A finished verification is never lost: when
    the store cannot take it, the record goes to a JSON file that `bakery state
    import-verification FILE` records later, and the error says where."""
    rec = verifications.VerificationRecord(
        fingerprint=report.fingerprint, image_ref=report.image_ref, passed=report.passed,
        started=report.started, duration=report.duration, report=report.as_dict())
    try:
        conn = open_store(project)
        try:
            verifications.record(conn, rec)
        finally:
            conn.close()
    except StoreError as exc:
        fd, name = tempfile.mkstemp(prefix=f"bakery-verification-{report.fingerprint[:12]}-",
                                    suffix=".json")
        with os.fdopen(fd, "w") as out:
            out.write(verifications.to_json(rec))
        verdict = "passed" if report.passed else "failed"
        raise StoreError(f"{exc}; the verification ({verdict}) was saved to {name}: record it "
                         f"with `bakery state import-verification {name}` once the store is "
                         "repaired") from exc
