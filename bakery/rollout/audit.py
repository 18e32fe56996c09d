"""bakery drift: every live and standby member against what its rollout put there. Read-only.

Gathers the inputs (fleets through the ``Runtime``, weights through the ``Balancer``, build
records and verifications from the store, the member through an ``Inspector``) and hands plain
values to the pure comparison (``bakery/drift/findings.py``). No lock, no journal row, no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bakery.definitions.rollout import RolloutDefinition
from bakery.drift import facts as f
from bakery.drift import findings
from bakery.drift.findings import Finding, MemberReport
from bakery.drift.ports import Inspector
from bakery.engine.scope import scope_for
from bakery.errors import BakeryError
from bakery.model.fleet import Fleet, Member
from bakery.project import Project
from bakery.rollout.adapters.inspect_docker import inspector_for
from bakery.rollout.context import Context
from bakery.rollout.observe import Observed
from bakery.rollout.ports import quiet
from bakery.rollout.recovery import detached_live
from bakery.rollout.service import Ports, ports_for
from bakery.store import builds, verifications
from bakery.store.db import open_store
from bakery.verify import procfs


def _writable(project: Project, rec: builds.BuildRecord) -> tuple[str, ...]:
    """The image's writable paths: its image.yaml's (today's definition of it) and the defaults."""
    declared: tuple[str, ...] = ()
    try:
        declared = project.load_image(rec.name).writable
    except BakeryError:
        pass  # an image folder since removed: the defaults still hold
    packages = [p.split("=", 1)[0] for p in (rec.definition or {}).get("packages", [])]
    return f.writable_paths(declared, packages)


def expected_for(project: Project, defn: RolloutDefinition, fleet: Fleet, role: str,
                 inspector: Inspector, conn: Any) -> f.Expected:
    """What the fleet's rollout put in each member's place (once per fleet: the image, the store
    and the definition are the same for every member; a member's published port is its own)."""
    rec = builds.get(conn, fleet.fingerprint) if fleet.fingerprint else None
    if rec is None:
        return f.Expected(None, fleet.fingerprint, False, must_run=role == "live")
    image = inspector.image(rec.image_id)
    if image is None:
        raise BakeryError(f"the verified image {rec.name} {rec.version} ({rec.image_id[:19]}) is not "
                          "on the engine: cannot compare against it")
    secrets = frozenset(defn.secrets) | frozenset((rec.definition or {}).get("secrets", []))
    programs = procfs.expected_programs(list(image.entrypoint or []) or None, list(image.cmd or []) or None)
    return f.Expected(image, rec.fingerprint, verifications.is_verified(conn, rec.fingerprint),
                      secrets=secrets, writable=_writable(project, rec), programs=tuple(programs),
                      must_run=role == "live")


def member_report(defn: RolloutDefinition, fleet: Fleet, member: Member | None, slot: int, role: str,
                  expected: f.Expected | BakeryError, inspector: Inspector) -> MemberReport:
    report = MemberReport(defn.environment, defn.service, role, fleet.colour, slot,
                          member.name if member else f"(slot {slot})", fleet.version, fleet.fingerprint)
    if member is None:
        report.findings = [Finding("state", "member", "missing: the slot has no container")]
        return report
    if isinstance(expected, BakeryError):
        report.error = str(expected)
        return report
    if member.port:  # the host port the runtime published it on (SSH hosts)
        expected = replace(expected, published=(f"{defn.port}/tcp->{member.port}",))
    image_id = expected.image.image_id if expected.image else ""
    wanted = expected

    def to_compare(seen: f.MemberFacts) -> list[str]:
        if not image_id:
            return []
        return [p for p, kind in findings.outside_writable(wanted, seen) if kind == f.MODIFIED]

    seen = inspector.member(member.container_id, to_compare, image_id)
    if seen.error:
        report.error = seen.error
        return report
    report.findings = findings.compare(expected, seen)
    return report


def members_of(obs: Observed, replicas: int) -> list[tuple[Fleet, str, int, Member | None]]:
    """(fleet, role, slot, member) for every live slot 1..replicas (missing ones too) and every
    standby member."""
    out: list[tuple[Fleet, str, int, Member | None]] = []
    if obs.live is not None:
        taken = {mb.index for mb in obs.live.members}
        out += [(obs.live, "live", mb.index, mb) for mb in obs.live.members]
        out += [(obs.live, "live", slot, None) for slot in range(1, replicas + 1) if slot not in taken]
    if obs.standby is not None:
        out += [(obs.standby, "standby", mb.index, mb) for mb in obs.standby.members]
    return out


def audit(project: Project, ctx: Context, inspector: Inspector | None = None) -> list[MemberReport]:
    """Every live and standby member of one env+service, each with its findings."""
    inspector = inspector or inspector_for(ctx.runtime)
    obs = ctx.observe()
    if obs.live is None:  # the balancer lost (or is down): the fleet the journal says is live
        obs.live = detached_live(ctx, obs)
    wanted = members_of(obs, ctx.defn.replicas)
    expected: dict[tuple[str, str], f.Expected | BakeryError] = {}
    conn = open_store(project)
    try:
        for fleet, role, _, _ in wanted:
            key = (fleet.rollout_id, role)
            if key not in expected:
                try:
                    expected[key] = expected_for(project, ctx.defn, fleet, role, inspector, conn)
                except BakeryError as exc:
                    expected[key] = exc
    finally:
        conn.close()
    return [member_report(ctx.defn, fleet, member, slot, role, expected[fleet.rollout_id, role], inspector)
            for fleet, role, slot, member in wanted]


def definitions(project: Project, env: str | None, service: str | None) -> list[RolloutDefinition]:
    """The rollout definitions drift and reconcile look at, in a stable order."""
    out = []
    for path in project.rollout_paths():
        if (env and path.parent.name != env) or (service and path.stem != service):
            continue
        out.append(project.load_rollout(path.parent.name, path.stem))
    return out


def drift(project: Project, env: str | None = None, service: str | None = None,
          on_report: Callable[[MemberReport], None] | None = None,
          ports: Callable[[RolloutDefinition], Ports] | None = None,
          inspector: Inspector | None = None) -> list[MemberReport]:
    """Every member of every matching definition, each with its findings. Read-only: the
    journal is only read (unfinished runs are not live), nothing is locked or changed."""
    out = []
    for defn in definitions(project, env, service):
        wired = ports(defn) if ports else ports_for(project, defn)
        scope = scope_for(project, defn.environment, defn.service)
        try:
            with wired.journal() as journal:
                ctx = Context(defn, scope, wired.runtime, wired.balancer(scope, defn), journal, quiet)
                found = audit(project, ctx, inspector)
        except BakeryError as exc:  # the engine or a host did not answer: nothing could be read
            found = [MemberReport(defn.environment, defn.service, "-", "", 0, "(fleet)", "", "",
                                  error=f"cannot read the fleet: {exc}")]
        for report in found:
            out.append(report)
            if on_report:
                on_report(report)
    return out
