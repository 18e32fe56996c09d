"""bakery reconcile: desired state (the rollout definitions) against what runs, converged the
immutable way only (issue 14).

Per env+service: the definition's image (pinned version, else the newest build) and replicas
against the live fleet, and each live member against its verified image (``audit``). A changed
definition becomes a rollout with its strategy (``service.rollout``); a dead, missing or
drifted member is replaced by a fresh container of the same verified image through the
balancer, journaled as a ``repair``: a drifted member that still serves is drained out of
rotation first (its slot's sessions end), then the machine's repair path removes it, starts its
replacement, waits for health and puts it back. Nothing that runs is ever changed in place.

``decide`` is pure; ``reconcile_one`` gathers its inputs and acts through the ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bakery.definitions.rollout import RolloutDefinition
from bakery.drift.findings import MemberReport
from bakery.drift.ports import Inspector
from bakery.engine.scope import scope_for
from bakery.errors import BakeryError, RolloutError
from bakery.model.environments import is_production
from bakery.project import Project
from bakery.rollout import audit
from bakery.rollout import service as service_api
from bakery.rollout.context import Context
from bakery.rollout.inputs import require_verified, resolve_secrets, resolve_target
from bakery.rollout.observe import degraded_slots
from bakery.rollout.ports import Sink, quiet
from bakery.rollout.recovery import reattach, recover, repair
from bakery.store import builds
from bakery.store.db import open_store


@dataclass
class Step:
    """What reconcile did (or found to do) for one env+service."""

    env: str
    service: str
    action: str  # noop | rollout | replace | refused | failed
    detail: str
    slots: tuple[int, ...] = ()
    rollout_id: str | None = None
    members: list[dict[str, Any]] = field(default_factory=list)  # the drift reports it acted on

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def decide(live_fingerprint: str | None, target_fingerprint: str, drifted: tuple[int, ...],
           degraded: tuple[int, ...], replicas: int, production: bool, allowed: bool) -> tuple[str, str]:
    """(action, why). Pure. A changed (or never rolled out) definition is a rollout; a live
    fleet with dead, missing or drifted members is a replace; else nothing. A production
    change needs ``allowed`` (--yes or ``auto: true``). A single serving member is never
    drained for a replace: that would leave nothing serving."""
    if live_fingerprint != target_fingerprint:
        action = "rollout"
        why = ("nothing is live yet" if live_fingerprint is None
               else f"the definition wants fp-{target_fingerprint[:12]}, fp-{live_fingerprint[:12]} is live")
    elif drifted or degraded:
        action = "replace"
        parts = []
        if drifted:
            parts.append(f"member(s) {', '.join(map(str, drifted))} drifted")
        if degraded:
            parts.append(f"member(s) {', '.join(map(str, degraded))} do not serve")
        why = "; ".join(parts)
        serving_drifted = [s for s in drifted if s not in degraded]
        if serving_drifted and replicas < 2:
            return "refused", (f"{why}: with replicas: 1 draining it would leave nothing serving; "
                               "raise replicas or run `bakery rollout` with a new build")
    else:
        return "noop", "as defined: the live fleet runs the definition's image and every member is clean"
    if production and not allowed:
        return "refused", f"{why}: a production change needs --yes or `auto: true` in the definition"
    return action, why


def _drifted_slots(reports: list[MemberReport]) -> tuple[int, ...]:
    return tuple(sorted({r.slot for r in reports if r.role == "live" and r.verdict == "drifted"}))


def reconcile_one(project: Project, defn: RolloutDefinition, yes: bool = False, emit: Sink = quiet,
                  ports: service_api.Ports | None = None, inspector: Inspector | None = None) -> Step:
    env, service = defn.environment, defn.service
    ports = ports or service_api.ports_for(project, defn, emit)
    scope = scope_for(project, env, service)
    rec = resolve_target(project, defn, None, ports.runtime)
    with ports.journal() as journal:
        ctx = Context(defn, scope, ports.runtime, ports.balancer(scope, defn), journal, emit, ports.probe)
        obs = ctx.observe()
        reports = audit.audit(project, ctx, inspector) if obs.live is not None else []
        unreadable = [r for r in reports if r.verdict == "unreadable"]
        drifted = _drifted_slots(reports)
        degraded = degraded_slots(obs.live, obs.stats, defn.replicas, defn.port) if obs.live else ()
        action, why = decide(obs.live.fingerprint if obs.live else None, rec.fingerprint, drifted, degraded,
                             defn.replicas, is_production(env), yes or defn.auto)
        step = Step(env, service, action, why, tuple(sorted(set(drifted) | set(degraded))),
                    obs.live.rollout_id if obs.live else None,
                    [r.as_dict() for r in reports if r.verdict != "clean"])
        if unreadable and action == "noop":
            step.action, step.detail = "failed", "; ".join(f"{r.name}: {r.error}" for r in unreadable)
        if step.action in ("noop", "refused", "failed"):
            return step
        if action == "rollout":
            outcome = service_api.rollout(project, env, service, canary=bool(defn.canary_steps),
                                          on_event=emit, ports=ports)
            step.rollout_id = outcome.rollout_id
            if outcome.status == "failed":
                step.action, step.detail = "failed", f"{why}; the rollout failed: {outcome.reason}"
            else:
                done = outcome.reason or outcome.status
                step.detail = f"{why}; rolled out {rec.name} {rec.version}: {done}"
            return step
        # replace: under the lock, against the fleet as it is now
        environment = resolve_secrets(defn)
        with ports.lock(scope.lock_key, "reconcile", lambda text: emit("warn", {"text": text})) as held:
            recover(ctx, held)
            reattach(ctx, held)
            now_obs = ctx.observe()
            live = now_obs.live
            if live is None or live.rollout_id != obs.live.rollout_id:  # type: ignore[union-attr]
                step.action, step.detail = "failed", "the live fleet changed meanwhile; run reconcile again"
                return step
            conn = open_store(project)
            try:
                live_rec = builds.get(conn, live.fingerprint)
            finally:
                conn.close()
            if live_rec is None:
                raise RolloutError(f"the live fleet's fp-{live.fingerprint[:12]} has no build record: "
                                   "it cannot be replaced from the same image; run `bakery rollout`")
            require_verified(project, live_rec)
            now_degraded = degraded_slots(live, now_obs.stats, defn.replicas, defn.port)
            slots = tuple(sorted(set(drifted) | set(now_degraded)))
            serving = tuple(s for s in drifted if s not in now_degraded)
            spec = service_api.fleet_spec(defn, live_rec, live.colour, live.rollout_id, environment)
            repair(ctx, held, live, slots, spec, strategy="reconcile", drain=serving,
                   success=f"replaced member(s) {', '.join(map(str, slots))} of {live.colour} "
                           f"{live.version} with fresh ones from the same verified image")
            step.slots = slots
            which = ", ".join(map(str, slots))
            step.detail = f"{why}; replaced member(s) {which} from the same verified image"
            return step


def reconcile(project: Project, env: str | None = None, yes: bool = False, emit: Sink = quiet,
              on_step: Callable[[Step], None] | None = None,
              stop: Callable[[], bool] = lambda: False) -> list[Step]:
    """One pass over every rollout definition (of ``env``). A definition that cannot be
    converged is a ``failed`` step; the others still run. ``stop()`` is asked between
    definitions (SIGTERM under --watch ends the pass after the current one)."""
    steps = []
    for defn in audit.definitions(project, env, None):
        if stop():
            break
        try:
            step = reconcile_one(project, defn, yes, emit)
        except BakeryError as exc:
            step = Step(defn.environment, defn.service, "failed", str(exc))
        steps.append(step)
        if on_step:
            on_step(step)
    return steps
