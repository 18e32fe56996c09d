"""`bakery rollout --plan`: the exact steps, weights, timings and rollback path. Pure.

The same inputs the rollout uses decide the plan, so what is printed is what would run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bakery.definitions.rollout import RolloutDefinition
from bakery.model.records import RolloutRow
from bakery.rollout.machine import CanaryPlanStep


@dataclass(frozen=True)
class Target:
    image_name: str
    version: str
    fingerprint: str


@dataclass(frozen=True)
class Live:
    version: str
    fingerprint: str
    colour: str
    rollout_id: str


@dataclass(frozen=True)
class PlanStep:
    what: str
    green_weight: int | None  # percent of traffic on the new fleet after this step, None: unchanged
    seconds: float  # expected (upper bound for waits)


@dataclass
class Plan:
    env: str
    service: str
    target: Target
    live: Live | None
    colour: str
    noop: bool
    strategy: str
    steps: list[PlanStep] = field(default_factory=list)
    rollback: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def expected_seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def as_dict(self) -> dict:
        return {
            "env": self.env, "service": self.service, "noop": self.noop, "strategy": self.strategy,
            "target": self.target.__dict__, "live": self.live.__dict__ if self.live else None,
            "colour": self.colour, "expected_seconds": round(self.expected_seconds, 1),
            "steps": [s.__dict__ for s in self.steps], "rollback": self.rollback, "notes": self.notes,
        }


def canary_steps(defn: RolloutDefinition) -> tuple[CanaryPlanStep, ...]:
    return tuple(CanaryPlanStep(s.weight, s.pause) for s in defn.canary_steps if s.weight < 100)


def health_estimate(defn: RolloutDefinition) -> float:
    """Typical time to healthy: container start, its first health check, HAProxy's rise checks."""
    h = defn.health
    return 1.0 + h.interval * (1 + h.healthy_threshold)


def make_plan(defn: RolloutDefinition, target: Target, live: Live | None, canary: bool,
              standby: Live | None = None) -> Plan:
    colour = "blue" if live is None else ("green" if live.colour == "blue" else "blue")
    noop = live is not None and live.fingerprint == target.fingerprint
    use_canary = canary and live is not None
    plan = Plan(defn.environment, defn.service, target, live, colour, noop,
                "canary" if use_canary else "blue-green")
    if noop:
        plan.notes.append(f"{target.image_name} {target.version} (fp-{target.fingerprint[:12]}) is already "
                          "live: nothing to do")
        return plan
    if standby is not None and live is not None:
        plan.notes.append(f"the kept previous fleet {standby.colour} ({standby.version}) is removed first: "
                          f"the new fleet takes its {standby.colour} slots. Whatever this rollout's outcome, "
                          f"`bakery rollback` then only has {live.version} to go back to after a success "
                          "and nothing after a failure")
    if canary and live is None:
        plan.notes.append("first rollout: no live fleet to compare a canary with, so all traffic moves "
                          "in one step once the new fleet is healthy")
    n = defn.replicas
    untouched = f"{live.colour} is not touched" if live else "no live fleet yet"
    plan.steps.append(PlanStep(f"start {n} {colour} container(s) from {target.image_name} {target.version} "
                               f"(fp-{target.fingerprint[:12]}); {untouched}",
                               None, 1.0))
    plan.steps.append(PlanStep(f"wait until each is healthy (its own health check, then HAProxy check "
                               f"GET {defn.health.path} UP at weight 0), "
                               f"at most {defn.health.start_timeout:g}s",
                               0 if live else None, health_estimate(defn)))
    if use_canary:
        a = defn.analysis
        for i, step in enumerate(canary_steps(defn), 1):
            plan.steps.append(PlanStep(
                f"canary step {i}: {colour} weight {step.weight}, {live.colour} weight {100 - step.weight} "
                f"(per server); hold {step.pause:g}s, send {a.probes} probe(s), then judge: error rate "
                f"<= {a.max_error_rate:.2%}, p99 <= {a.max_p99_ms:g}ms, at least {a.min_requests} samples",
                step.weight, step.pause))
    plan.steps.append(PlanStep(f"move all traffic to {colour} in one step "
                               f"({colour} weight 100{', ' + live.colour + ' weight 0' if live else ''})",
                               100, 0.1))
    if live:
        plan.steps.append(PlanStep(f"drain {live.colour} ({live.version}): wait for its sessions to end, "
                                   f"at most {defn.drain_timeout:g}s, then maintenance", 100,
                                   min(defn.drain_timeout, 1.0)))
        plan.steps.append(PlanStep(f"keep {live.colour} ({live.version}) running, out of rotation, for "
                                   f"{_human(defn.keep_previous)} (instant rollback); remove older fleets",
                                   100, 0.5))
        plan.rollback = (f"on a failed health check or analysis: all weight back to {live.colour} "
                         f"({live.version}), {colour} removed; after success: `bakery rollback "
                         f"{defn.service} --env {defn.environment}` moves all traffic back to "
                         f"{live.colour} in one step within {_human(defn.keep_previous)}")
    else:
        plan.steps.append(PlanStep("remove older fleets", 100, 0.5))
        plan.rollback = ("on a failed health check: the new fleet is removed (nothing was live); "
                         "no earlier fleet to roll back to after success")
    return plan


def _human(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def no_rollback_target(service: str, env: str, live_version: str, history: list[RolloutRow],
                       keep_previous: float) -> str:
    """Why `bakery rollback` has nowhere to go, and what to run instead. Pure.

    ``history``: journal rows (newest first) down to and including the one that made the live
    fleet live. A rollout after it that failed or was unwound took the previous fleet's colour
    slots (a new fleet always takes the colour that is not live) and so removed that fleet.
    """
    made_live = next((r for r in history if r.status == "succeeded" and r.kind in ("rollout", "rollback")),
                     None)
    earlier = made_live.prev_version if made_live else None
    instead = (f"roll out the version you want instead: `bakery rollout {service} --env {env} "
               f"--image {earlier or 'VERSION'}`")
    for row in history:
        if row is made_live:
            break
        if row.kind == "rollout" and row.status in ("failed", "unwound"):
            return (f"no previous fleet of {service} in {env} to roll back to: the {row.status} rollout "
                    f"{row.id} of {row.image_name} {row.version} took its {row.colour} slots and removed it "
                    f"({live_version} stayed live throughout); {instead}")
    if made_live is None or earlier is None:
        return f"{service} in {env} has had only one fleet ({live_version}): there is nothing to roll back to"
    return (f"no previous fleet of {service} in {env} is kept any more ({earlier}: the rollback window is "
            f"{_human(keep_previous)}); {instead}")
