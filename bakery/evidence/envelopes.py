"""DSSE envelopes around in-toto Statements: sign, store, read back and check.

Files live beside the SBOM in ``.bakery/artifacts/<name>/<version>/``: one
``<kind>.intoto.json`` per build, verification and policy check, and one
``rollout-<env>-<stamp>.intoto.json`` per rollout. Every check names the file and
what failed, so a flipped byte, a foreign key and a retagged image read differently.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakery.evidence.keys import PublicKey
from bakery.evidence.statements import KIND_OF, PAYLOAD_TYPE, STATEMENT_TYPE, canonical

SUFFIX = ".intoto.json"


def evidence_dir(artifacts: Path, name: str, version: str) -> Path:
    return artifacts / name / version


def sign(statement: dict[str, Any], signer: Any) -> dict[str, Any]:
    """The statement as a DSSE envelope (JSON-ready dict) signed by ``signer``."""
    from securesystemslib.dsse import Envelope  # deferred: only when evidence is written

    envelope = Envelope(canonical(statement), PAYLOAD_TYPE, {})
    envelope.sign(signer)
    return envelope.to_dict()


def write(folder: Path, filename: str, envelope: dict[str, Any]) -> Path:
    """Atomically (a reader never sees half an envelope)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    tmp = path.with_name(f".{filename}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(envelope, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*" + SUFFIX)) if folder.is_dir() else []


@dataclass
class Checked:
    """One envelope file read back: its statement when readable, and every problem found."""

    path: Path
    statement: dict[str, Any] | None = None
    signed_by: list[str] = field(default_factory=list)   # names of keys whose signature holds
    problems: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.statement is None:
            return "unreadable"
        return KIND_OF.get(self.statement.get("predicateType", ""), "unknown")

    @property
    def predicate(self) -> dict[str, Any]:
        return (self.statement or {}).get("predicate") or {}

    def digests(self) -> list[tuple[str, str]]:
        """(subject name, "sha256:<hex>") for each subject."""
        out = []
        for sub in (self.statement or {}).get("subject") or []:
            digest = sub.get("digest") or {}
            algo = "sha256" if "sha256" in digest else next(iter(digest), "")
            out.append((str(sub.get("name", "")), f"{algo}:{digest.get(algo, '')}"))
        return out


def check(path: Path, keys: list[PublicKey]) -> Checked:
    """Parse an envelope, check its signatures against ``keys`` and read its statement."""
    # Deferred, as in sign(): securesystemslib loads only when evidence is read.
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import FormatError, UnverifiedSignatureError

    result = Checked(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        envelope = Envelope.from_dict(data)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, FormatError) as exc:
        result.problems.append(f"not a readable DSSE envelope ({type(exc).__name__}: {exc})")
        return result
    if envelope.payload_type != PAYLOAD_TYPE:
        result.problems.append(f"payloadType is {envelope.payload_type!r}, not {PAYLOAD_TYPE}")
    if not envelope.signatures:
        result.problems.append("unsigned (no signatures)")
    pae = envelope.pae()
    by_id = {k.keyid: k for k in keys}
    for keyid, signature in envelope.signatures.items():
        key = by_id.get(keyid)
        if key is None:
            result.problems.append(f"signed by an unknown key {keyid[:16]}… (not among: "
                                   f"{', '.join(k.name for k in keys) or 'no trusted keys'})")
            continue
        try:
            key.key.verify_signature(signature, pae)
            result.signed_by.append(key.name)
        except UnverifiedSignatureError:
            result.problems.append(f"signature by key {key.name} does not verify: the envelope "
                                   "was changed after signing")
    try:
        statement = json.loads(envelope.payload)
    except ValueError:
        result.problems.append("payload is not JSON")
        return result
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        result.problems.append(f"payload is not an in-toto Statement v1 ({STATEMENT_TYPE})")
        return result
    result.statement = statement
    return result
