"""The documents policies see as ``input`` (documented in docs/trust.md).

Every input carries the definition as written and validated (durations in seconds), so a
rule's ``key`` (a path like ``strategy.canary`` or ``user``) maps to a line through the
loader's line index. Image inputs add what bakery knows around the definition (its tests,
the rollouts that serve it) and, once built, the build's facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakery.definitions import yamlsource
from bakery.definitions.image import IMAGE_SCHEMA
from bakery.definitions.rollout import ROLLOUT_SCHEMA
from bakery.project import Project
from bakery.store import verifications
from bakery.store.builds import BuildRecord


@dataclass
class PolicyInput:
    subject: str                 # "image web", "rollout production/web"
    file: str                    # the definition, relative to the project
    document: dict[str, Any]     # what the policies see as input
    source: yamlsource.Source    # for key -> line

    def line_of(self, key: str | None) -> int | None:
        return self.source.line_of(key) if key else None


def _load(project: Project, path: Path, schema: Any) -> tuple[yamlsource.Source, dict[str, Any]]:
    source = yamlsource.load(path, yamlsource.display_path(path, project.root))
    return source, schema.check(source.data, "", source)


def served_by(project: Project) -> dict[str, list[str]]:
    """Image name -> the rollouts ("env/service") that deploy it; unreadable rollouts are skipped."""
    out: dict[str, list[str]] = {}
    for path in project.rollout_paths():
        try:
            _, data = _load(project, path, ROLLOUT_SCHEMA)
        except Exception:  # noqa: BLE001 - lint reports a broken rollout; here it serves nothing
            continue
        out.setdefault(data["image"]["name"], []).append(f"{path.parent.name}/{path.stem}")
    return out


def image_input(project: Project, name: str, build: dict[str, Any] | None = None,
                serving: dict[str, list[str]] | None = None) -> PolicyInput:
    path = project.image_path(name)
    source, data = _load(project, path, IMAGE_SCHEMA)
    tests = sorted(p.relative_to(project.root).as_posix()
                   for p in (path.parent / "tests").glob("test_*.py"))
    serving = served_by(project) if serving is None else serving
    document = {"kind": "image", "name": name, "file": str(source.path), "definition": data,
                "tests": tests, "served_by": serving.get(name, []), "build": build}
    return PolicyInput(f"image {name}", str(source.path), document, source)


def rollout_input(project: Project, path: Path) -> PolicyInput:
    source, data = _load(project, path, ROLLOUT_SCHEMA)
    document = {"kind": "rollout", "environment": data["environment"], "service": data["service"],
                "file": str(source.path), "definition": data}
    return PolicyInput(f"rollout {data['environment']}/{data['service']}", str(source.path),
                       document, source)


def build_facts(rec: BuildRecord, inspect: dict[str, Any] | None,
                verification: verifications.VerificationRecord | None) -> dict[str, Any]:
    """The build's facts from its record, the engine's inspect data and its verification. Pure."""
    config = (inspect or {}).get("Config") or {}
    ports = sorted(int(p.split("/", 1)[0]) for p in (config.get("ExposedPorts") or {}))
    facts: dict[str, Any] = {
        "version": rec.version, "fingerprint": rec.fingerprint, "image_id": rec.image_id,
        "base_id": rec.base_id, "created": rec.created,
        "packages": [p.as_dict() for p in rec.manifest],
        "size": (inspect or {}).get("Size"),
        "layers": len(((inspect or {}).get("RootFS") or {}).get("Layers") or []) if inspect else None,
        "user": (config.get("User") or "root") if inspect else None,
        "exposed_ports": ports if inspect else None,
        "verification": None,
    }
    if verification is not None:
        facts["verification"] = {"passed": verification.passed, "started": verification.started,
                                 "counts": verification.report.get("counts") or {}}
    return facts
