"""Write signed evidence after a build, a verification, a policy check and a rollout.

Each writer takes plain data (store records, dicts), signs with the project key when one is
at hand and returns the envelope's path, or None when the project has no usable key (then
nothing is written: unsigned evidence proves nothing). Higher layers call these.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bakery.evidence import envelopes, statements
from bakery.evidence.keys import load_signer
from bakery.project import Project
from bakery.store import builds, verifications
from bakery.store.builds import BuildRecord
from bakery.store.db import open_store
from bakery.store.verifications import VerificationRecord


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _folder(project: Project, rec: BuildRecord) -> Path:
    return envelopes.evidence_dir(project.artifacts_dir, rec.name, rec.version)


def _sign_and_write(project: Project, rec: BuildRecord, filename: str,
                    statement: dict[str, Any]) -> Path | None:
    found = load_signer(project)
    if found is None:
        return None
    _, signer = found
    return envelopes.write(_folder(project, rec), filename, envelopes.sign(statement, signer))


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def drop_stale(project: Project, rec: BuildRecord) -> list[Path]:
    """Remove envelopes of this version that describe another image (an earlier build of the
    same version): the version's tag no longer points at it, so they would only mislead."""
    removed = []
    want = rec.image_id if ":" in rec.image_id else f"sha256:{rec.image_id}"
    for path in envelopes.files(_folder(project, rec)):
        checked = envelopes.check(path, [])
        digests = {d for _, d in checked.digests()}
        if checked.statement is not None and digests and want not in digests:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def record_build(project: Project, rec: BuildRecord, builder: str = "docker",
                 revision: str = "") -> Path | None:
    """SLSA provenance for a build (written again for a no-op rebuild: same content)."""
    if load_signer(project) is None:
        return None
    drop_stale(project, rec)
    definition = project.image_path(rec.name)
    base = (rec.definition or {}).get("base", "")
    statement = statements.provenance(
        rec, definition.relative_to(project.root).as_posix(), _file_sha256(definition),
        f"bakery/base/{base}" if base else "", builder=builder, revision=revision)
    return _sign_and_write(project, rec, "provenance" + envelopes.SUFFIX, statement)


def record_verification(project: Project, rec: BuildRecord, verification: VerificationRecord,
                        junit_path: Path | None = None) -> Path | None:
    """Counts, failed checks and digests of the JUnit file (when written) and of the report."""
    report = verification.report or {}
    failed = [c.get("name", "") for c in report.get("checks", [])
              if c.get("outcome") in ("failed", "error")]
    statement = statements.verification(
        rec, verification.passed, report.get("counts") or {}, verification.started,
        verification.duration, failed, _file_sha256(junit_path) if junit_path else None,
        statements.sha256(statements.canonical(report)))
    return _sign_and_write(project, rec, "verification" + envelopes.SUFFIX, statement)


def record_policy(project: Project, rec: BuildRecord, findings: list[dict[str, Any]],
                  policy_files: dict[str, str]) -> Path | None:
    """The policy results for a build: pass/fail, each finding, and the policies' digests."""
    statement = statements.policy(rec, findings, policy_files, _now())
    return _sign_and_write(project, rec, "policy" + envelopes.SUFFIX, statement)


def record_rollout(project: Project, rec: BuildRecord, environment: str, service: str,
                   outcome: str, started: str, finished: str, verdicts: list[dict[str, Any]],
                   rollout_id: str = "") -> Path | None:
    """One attestation per rollout: environment, outcome ("promoted", "rolled back", …) and
    each canary step's verdict with its numbers (weight, requests, error rate, p99, pass)."""
    statement = statements.rollout(rec, environment, service, outcome, started, finished,
                                   verdicts, rollout_id)
    stamp = finished.replace(":", "").replace("-", "") or _now()
    return _sign_and_write(project, rec, f"rollout-{environment}-{stamp}" + envelopes.SUFFIX,
                           statement)


def record_latest_verification(project: Project, fingerprint: str,
                               junit_path: Path | None = None) -> Path | None:
    """Hook for `bakery verify` / `bakery ci` right after a verification is recorded: sign the
    latest verification of ``fingerprint``. None without a key or without the records."""
    conn = open_store(project)
    try:
        rec = builds.get(conn, fingerprint)
        verification = verifications.latest(conn, fingerprint)
    finally:
        conn.close()
    if rec is None or verification is None:
        return None
    return record_verification(project, rec, verification, junit_path)
