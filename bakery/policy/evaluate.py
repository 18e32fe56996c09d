"""Run the project's policies over its definitions (lint) or over a build (build, ci).

Definition rules see ``input.build == null`` and build-fact rules are written against
``input.build``, so one set of policies serves both moments: at lint time a rule that needs
build facts is simply undefined.
"""

from __future__ import annotations

from typing import Any

import docker.errors

from bakery.engine.client import engine
from bakery.errors import BakeryError, EngineError
from bakery.policy import rego
from bakery.policy.inputs import PolicyInput, build_facts, image_input, rollout_input, served_by
from bakery.policy.model import Finding, level_of, split_result
from bakery.project import Project
from bakery.store import builds, verifications
from bakery.store.builds import BuildRecord
from bakery.store.db import open_store
from bakery.store.url import state_url


def findings_for(policies: rego.PolicySet, subject: PolicyInput) -> list[Finding]:
    out = []
    for package, rule, result in rego.evaluate(policies, subject.document, subject.subject):
        level = level_of(rule)
        if level is None:
            continue
        message, key = split_result(result)
        out.append(Finding(level, message, policies.origin(package), subject.subject, subject.file,
                           subject.line_of(key), key))
    return out


def definition_inputs(project: Project, names: list[str] | None = None) -> list[PolicyInput]:
    """Inputs for valid image and rollout definitions (invalid ones are lint's to report).

    ``names`` picks images by name and rollouts as ``ENV/SERVICE``; None means all."""
    serving = served_by(project)
    inputs = []
    for name in project.image_names():
        if names is None or name in names:
            try:
                inputs.append(image_input(project, name, serving=serving))
            except BakeryError:
                continue
    for path in project.rollout_paths():
        if names is None or f"{path.parent.name}/{path.stem}" in names:
            try:
                inputs.append(rollout_input(project, path))
            except BakeryError:
                continue
    return inputs


def check_definitions(project: Project, names: list[str] | None = None) -> list[Finding]:
    """Definition-only rules over every (or the named) definitions; [] without policy/."""
    policies = rego.load(project.root)
    if not policies:
        return []
    return [f for subject in definition_inputs(project, names) for f in findings_for(policies, subject)]


def inspect_image(image_id: str) -> dict[str, Any] | None:
    """The engine's inspect data for an image, or None when the engine no longer has it."""
    try:
        return engine().api.inspect_image(image_id)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise EngineError(f"cannot inspect image {image_id[:19]}: {exc}") from exc


def facts_for(project: Project, rec: BuildRecord) -> dict[str, Any]:
    conn = open_store(project)
    try:
        verification = verifications.latest(conn, rec.fingerprint)
    finally:
        conn.close()
    return build_facts(rec, inspect_image(rec.image_id), verification)


def check_build(project: Project, rec: BuildRecord,
                policies: rego.PolicySet | None = None) -> list[Finding]:
    """Every rule, definition and build facts alike, for one build of an image."""
    policies = rego.load(project.root) if policies is None else policies
    if not policies:
        return []
    subject = image_input(project, rec.name, build=facts_for(project, rec))
    return findings_for(policies, subject)


def newest_build(project: Project, name: str, version: str | None = None) -> BuildRecord | None:
    url = state_url(project)
    if not url.is_postgresql and url.path is not None and not url.path.exists():
        return None  # nothing built yet: opening the store would create an empty one
    conn = open_store(project)
    try:
        found = builds.find(conn, name, version)
    finally:
        conn.close()
    return found[0] if found else None
