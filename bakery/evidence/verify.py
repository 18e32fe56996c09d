"""`bakery evidence verify` and `export`: every envelope of one image version, its signatures
and its subjects against the image the engine holds under that tag."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from bakery.engine.client import engine
from bakery.errors import EngineError, UsageError
from bakery.evidence import envelopes
from bakery.evidence.keys import PublicKey, load_public, project_keys
from bakery.project import Project
from bakery.store import builds
from bakery.store.db import open_store


@dataclass
class EvidenceReport:
    name: str
    version: str
    folder: Path
    checked: list[envelopes.Checked] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # about the set as a whole

    @property
    def ok(self) -> bool:
        return not self.problems and all(not c.problems for c in self.checked)

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "ok": self.ok,
                "problems": self.problems,
                "envelopes": [{"file": c.path.name, "kind": c.kind, "signed_by": c.signed_by,
                               "subjects": [f"{n}@{d}" for n, d in c.digests()],
                               "problems": c.problems} for c in self.checked]}


def resolve_version(project: Project, name: str, version: str | None) -> str:
    """The version asked for, or that of the newest build of ``name``."""
    if version:
        return version
    conn = open_store(project)
    try:
        found = builds.find(conn, name)
    finally:
        conn.close()
    if not found:
        raise UsageError(f"no build of {name!r} recorded; give NAME:VERSION")
    return found[0].version


def trusted_keys(project: Project, key_path: Path | None) -> list[PublicKey]:
    if key_path is not None:
        return [load_public(key_path)]
    keys = list(project_keys(project).values())
    if not keys:
        raise UsageError("no trusted keys: the project has no keys/*.pub (run `bakery keys init`) "
                         "and no --key was given")
    return keys


def engine_digest(tag: str) -> str | None:
    """The id (sha256 of the config) of the image ``tag`` names, or None when absent."""
    try:
        return engine().images.get(tag).id
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 400:  # not a valid reference: no such image either
            return None
        raise EngineError(f"cannot look up {tag}: {exc}") from exc
    except docker.errors.DockerException as exc:
        raise EngineError(f"cannot look up {tag}: {exc}") from exc


def verify(project: Project, name: str, version: str | None = None,
           key_path: Path | None = None) -> EvidenceReport:
    version = resolve_version(project, name, version)
    keys = trusted_keys(project, key_path)
    folder = envelopes.evidence_dir(project.artifacts_dir, name, version)
    report = EvidenceReport(name, version, folder)
    paths = envelopes.files(folder)
    if not paths:
        report.problems.append(f"no evidence for {name} {version} under {folder}")
        return report
    on_engine: dict[str, str | None] = {}
    for path in paths:
        checked = envelopes.check(path, keys)
        # An envelope whose signature fails says nothing trustworthy: its subjects are not looked up.
        for tag, digest in checked.digests() if not checked.problems else []:
            if tag not in on_engine:
                on_engine[tag] = engine_digest(tag)
            actual = on_engine[tag]
            if actual is None:
                checked.problems.append(f"subject {tag} is not on the engine")
            elif actual != digest:
                checked.problems.append(f"subject {tag} is {digest[:19]}… in the evidence but the "
                                        f"engine's {tag} is {actual[:19]}… (retagged or rebuilt)")
        report.checked.append(checked)
    if not any(c.kind == "provenance" for c in report.checked):
        report.problems.append("no readable provenance (provenance.intoto.json)")
    return report


def export(project: Project, name: str, version: str, out: Path) -> tuple[Path, int]:
    """Every envelope of NAME:VERSION as one JSON Lines bundle (in-toto's bundle format)."""
    folder = envelopes.evidence_dir(project.artifacts_dir, name, version)
    paths = envelopes.files(folder)
    if not paths:
        raise UsageError(f"no evidence for {name} {version} under {folder}")
    lines = []
    for path in paths:
        try:
            lines.append(json.dumps(json.loads(path.read_text()), sort_keys=True,
                                    separators=(",", ":")))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: not a readable envelope ({exc}); "
                             "`bakery evidence verify` names what is wrong") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out, len(lines)
