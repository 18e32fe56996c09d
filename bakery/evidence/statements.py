"""in-toto Statements (v1) about one image. Pure: plain data in, plain dicts out.

The subject is always the image as the engine knows it: its version tag and the sha256 of
its config (the image id), so a retagged or rebuilt image no longer matches.
Predicates: SLSA provenance v1 for the build; bakery's own types for verification, policy
and rollouts (https://bakery.dev/attestations/<kind>/v1).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bakery import RECIPE_VERSION, __version__
from bakery.store.builds import BuildRecord

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://bakery.dev/build/image/v1"
BUILDER_ID = "https://bakery.dev/builder/bakery"
VERIFICATION = "https://bakery.dev/attestations/verification/v1"
POLICY = "https://bakery.dev/attestations/policy/v1"
ROLLOUT = "https://bakery.dev/attestations/rollout/v1"

KIND_OF = {SLSA_PROVENANCE: "provenance", VERIFICATION: "verification", POLICY: "policy",
           ROLLOUT: "rollout"}


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_tag(name: str, version: str) -> str:
    """The version tag the engine holds for a build (as build.fingerprint.version_tag)."""
    return f"bakery/{name}:{version.replace('+', '_')}"


def subject(rec: BuildRecord) -> dict[str, Any]:
    algo, _, hexdigest = rec.image_id.partition(":")
    return {"name": image_tag(rec.name, rec.version), "digest": {algo or "sha256": hexdigest},
            "annotations": {"fingerprint": rec.fingerprint}}


def statement(rec: BuildRecord, predicate_type: str, predicate: dict[str, Any]) -> dict[str, Any]:
    return {"_type": STATEMENT_TYPE, "subject": [subject(rec)], "predicateType": predicate_type,
            "predicate": predicate}


def _purl(pkg: dict[str, str]) -> str:
    return f"pkg:deb/debian/{pkg['name']}@{pkg['version']}?arch={pkg['arch']}"


def provenance(rec: BuildRecord, definition_path: str, definition_file_sha256: str | None,
               base_ref: str, builder: str = "docker", revision: str = "") -> dict[str, Any]:
    """SLSA provenance v1: what was built from what (definition, base image, packages)."""
    definition = rec.definition or {}
    base_algo, _, base_hex = rec.base_id.partition(":")
    materials: list[dict[str, Any]] = [
        {"name": "definition", "uri": definition_path,
         "digest": {"sha256": sha256(canonical(definition))},
         "annotations": {"digest_of": "the normalised definition (canonical JSON)"}},
    ]
    if definition_file_sha256:
        materials.append({"name": "definition-file", "uri": definition_path,
                          "digest": {"sha256": definition_file_sha256}})
    if rec.base_id:
        materials.append({"name": "base", "uri": f"docker-image://{base_ref}",
                          "digest": {base_algo or "sha256": base_hex}})
    materials += [{"name": p.name, "uri": _purl(p.as_dict())} for p in rec.manifest]
    external: dict[str, Any] = {"image": rec.name, "version": rec.version,
                                "definition": definition_path, "builder": builder}
    if revision:
        external["revision"] = revision
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external,
            "internalParameters": {"fingerprint": rec.fingerprint, "recipe": RECIPE_VERSION},
            "resolvedDependencies": materials,
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": {"bakery": __version__, "recipe": RECIPE_VERSION}},
            "metadata": {"invocationId": rec.fingerprint, "finishedOn": rec.created},
        },
    }
    return statement(rec, SLSA_PROVENANCE, predicate)


def verification(rec: BuildRecord, passed: bool, counts: dict[str, int], started: str,
                 duration: float, failed: list[str], junit_sha256: str | None,
                 report_sha256: str) -> dict[str, Any]:
    return statement(rec, VERIFICATION, {
        "passed": passed, "counts": counts, "started": started, "duration_s": round(duration, 3),
        "failed_checks": failed,
        "junit": {"digest": {"sha256": junit_sha256}} if junit_sha256 else None,
        "report": {"digest": {"sha256": report_sha256}},
    })


def policy(rec: BuildRecord, findings: list[dict[str, Any]], policy_files: dict[str, str],
           evaluated: str) -> dict[str, Any]:
    denied = [f for f in findings if f.get("level") == "deny"]
    return statement(rec, POLICY, {
        "result": "fail" if denied else "pass", "evaluated": evaluated,
        "policies": [{"uri": path, "digest": {"sha256": sha256(text.encode())}}
                     for path, text in sorted(policy_files.items())],
        "denials": denied, "warnings": [f for f in findings if f.get("level") != "deny"],
    })


def rollout(rec: BuildRecord, environment: str, service: str, outcome: str, started: str,
            finished: str, verdicts: list[dict[str, Any]], rollout_id: str = "") -> dict[str, Any]:
    return statement(rec, ROLLOUT, {
        "environment": environment, "service": service, "outcome": outcome,
        "rollout_id": rollout_id, "started": started, "finished": finished, "verdicts": verdicts,
    })
