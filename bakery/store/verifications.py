"""Verification results, recorded against an image fingerprint (invariant 3)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from bakery.store.db import Connection


@dataclass(frozen=True)
class VerificationRecord:
    fingerprint: str
    image_ref: str
    passed: bool
    started: str
    duration: float
    report: dict[str, Any] = field(default_factory=dict)


def to_json(rec: VerificationRecord) -> str:
    """The record as one JSON document: what `bakery verify` prints when the store cannot take
    it (StoreError from ``record``), so a finished verification is not lost; `bakery state
    import-verification FILE` records it later."""
    return json.dumps({"verification_record": asdict(rec)}, indent=2, sort_keys=True)


def from_json(text: str) -> VerificationRecord:
    """Read back what ``to_json`` wrote; ValueError when it is not such a document."""
    try:
        data = json.loads(text)["verification_record"]
        rec = VerificationRecord(str(data["fingerprint"]), str(data["image_ref"]), bool(data["passed"]),
                                 str(data["started"]), float(data["duration"]), dict(data["report"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a verification record written by bakery verify ({exc})") from None
    if len(rec.fingerprint) != 64:
        raise ValueError("not a verification record: its fingerprint is not 64 hex digits")
    return rec


def record(conn: Connection, rec: VerificationRecord) -> None:
    conn.execute(
        "INSERT INTO verifications (fingerprint, image_ref, passed, started, duration, report)"
        " VALUES (?,?,?,?,?,?)",
        (rec.fingerprint, rec.image_ref, int(rec.passed), rec.started, rec.duration,
         json.dumps(rec.report)),
    )


def latest(conn: Connection, fingerprint: str) -> VerificationRecord | None:
    """The most recent verification of this fingerprint; it alone decides (a re-run can fail)."""
    row = conn.execute("SELECT * FROM verifications WHERE fingerprint = ? ORDER BY id DESC LIMIT 1",
                       (fingerprint,)).fetchone()
    if row is None:
        return None
    return VerificationRecord(row["fingerprint"], row["image_ref"], bool(row["passed"]),
                              row["started"], row["duration"], json.loads(row["report"]))


def is_verified(conn: Connection, fingerprint: str) -> bool:
    rec = latest(conn, fingerprint)
    return rec is not None and rec.passed


def summary(rec: VerificationRecord | None) -> str:
    """One cell for `bakery images`: "passed 17/18 (1 skipped) 2024-05-01T10:00:00Z",
    "FAILED 2/18 ..." (the number of failed or erroring checks)."""
    if rec is None:
        return "not verified"
    counts = rec.report.get("counts") or {}
    total = sum(counts.values())
    skipped = counts.get("skipped", 0)
    note = f" ({skipped} skipped)" if skipped else ""
    if rec.passed:
        return f"passed {counts.get('passed', 0)}/{total}{note} {rec.started}"
    bad = counts.get("failed", 0) + counts.get("error", 0)
    return f"FAILED {bad}/{total}{note} {rec.started}"
