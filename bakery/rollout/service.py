"""The rollout service: plan, rollout, rollback, status and history, for the CLI and for patch.

Each entry point resolves its inputs, takes the env+service lock, tidies up what an earlier run
left (recovery, reattach, rollback window), and hands the journaled work to the driver. The
world is reached only through ``Ports``; ``local_ports`` wires the local engine, HAProxy and
the state store, and unit tests wire fakes (tests/fakes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bakery.balancer import commands as cmd
from bakery.balancer.haproxy import HAProxy
from bakery.definitions.rollout import RolloutDefinition
from bakery.engine.scope import Scope, scope_for
from bakery.errors import BakeryError, RolloutError
from bakery.evidence.record import record_rollout
from bakery.evidence.requirements import require_evidence
from bakery.model.records import RolloutRow, new_id, now
from bakery.notify import notifying
from bakery.project import Project
from bakery.rollout import machine as m
from bakery.rollout import promotion, traffic
from bakery.rollout.adapters.local import LocalRuntime
from bakery.rollout.adapters.store import open_journal, store_lock
from bakery.rollout.canary import Probe
from bakery.rollout.context import Context
from bakery.rollout.driver import Run
from bakery.rollout.inputs import require_verified, resolve_secrets, resolve_target, verified_lb_image
from bakery.rollout.observe import as_live, degraded_slots
from bakery.rollout.plan import Plan, Target, canary_steps, make_plan, no_rollback_target
from bakery.rollout.ports import Balancer, FleetSpec, HeldLock, Journal, LockFactory, Runtime, Sink, quiet
from bakery.rollout.recovery import detached_live, expire_standby, reattach, recover, repair
from bakery.store import builds, locks, overrides, samples
from bakery.store import journal as journal_rows
from bakery.store.db import open_store
from bakery.store.url import state_url
from bakery.telemetry import recording, report_path


@dataclass
class Ports:
    """Everything the service reaches the world through."""

    runtime: Runtime
    balancer: Callable[[Scope, RolloutDefinition], Balancer]
    journal: Callable[[], AbstractContextManager[Journal]]
    lock: LockFactory
    lb_image: Callable[[Sink], str]  # the verified load balancer image, built on demand
    lock_holder: Callable[[str], str | None] = lambda key: None  # who holds a lock, for status
    probe: Probe | None = None  # canary probes; None: HTTP to each member


def local_ports(project: Project) -> Ports:
    def holder(key: str) -> str | None:
        conn = open_store(project)
        try:
            info = locks.get(conn, key)
            return locks.describe_with_state(info, conn) if info else None
        finally:
            conn.close()

    return Ports(runtime=LocalRuntime(), balancer=HAProxy, journal=lambda: open_journal(project),
                 lock=store_lock(project), lb_image=lambda emit: verified_lb_image(project, emit),
                 lock_holder=holder)


def ports_for(project: Project, defn: RolloutDefinition, emit: Sink = quiet) -> Ports:
    """The ports a definition calls for: the local engine, or its ``targets:`` hosts over SSH
    (the balancer, journal and lock stay on this machine either way)."""
    ports = local_ports(project)
    if defn.targets is None:
        return ports
    # The SSH and Swarm wiring load here, not at start-up: they bring paramiko and fabric.
    if defn.targets.swarm is not None:  # the hosts form a Swarm: one service per colour
        from bakery.rollout.adapters.swarm_wiring import swarm_ports_parts

        runtime, balancer, probe = swarm_ports_parts(defn.targets, project.state_dir, emit)
        return replace(ports, runtime=runtime, balancer=balancer, probe=probe)
    from bakery.rollout.adapters.ssh_wiring import ssh_ports_parts

    runtime, balancer, probe = ssh_ports_parts(defn.targets, project.state_dir, emit)
    return replace(ports, runtime=runtime, balancer=balancer, probe=probe)


def remote_health(runtime: Runtime, scope: Scope) -> dict[str, list]:
    """For `bakery status`: "hosts", per host of an SSH fleet, up or down and why; "swarm", per
    colour and node, tasks desired and running. Both empty for the local engine, which does
    not load the SSH and Swarm wiring (paramiko, fabric) to say so."""
    if isinstance(runtime, LocalRuntime):
        return {"hosts": [], "swarm": []}
    from bakery.rollout.adapters.ssh_wiring import host_health
    from bakery.rollout.adapters.swarm_wiring import swarm_tasks

    return {"hosts": host_health(runtime), "swarm": swarm_tasks(runtime, scope)}


@dataclass
class Outcome:
    status: str  # succeeded | failed | noop | planned
    rollout_id: str | None
    reason: str = ""
    plan: Plan | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def url_of(defn: RolloutDefinition, lb: Balancer | None = None) -> str:
    """Where the service answers: the balancer's published address as it really is (a serving LB
    keeps its address when `listen:` changes), else the definition's."""
    host, port = defn.listen_host, defn.listen_port
    if lb is not None and (published := lb.published()) is not None:
        host, port = published
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


@contextmanager
def reported(project: Project, defn: RolloutDefinition, lb: Balancer, emit: Sink,
             thresholds: bool = True) -> Iterator[Sink]:
    """The run's events and the balancer's per-server stats (each second) recorded for its
    report, and sent to the definition's `notify:` targets. Neither can fail or slow the run;
    a missing notification secret is refused here, before the lock and any change."""
    report = str(report_path(project.state_dir, "{rollout_id}"))
    with recording(state_url(project), stats=lb.stats, interval=1.0,
                   thresholds=asdict(defn.analysis) if thresholds else None) as recorder, \
            notifying(defn.notify, defn.environment, defn.service, report=report) as notifier:
        yield recorder.wrap(notifier.wrap(emit) if notifier else emit)


def _context(project: Project, ports: Ports, defn: RolloutDefinition, journal: Journal,
             emit: Sink) -> Context:
    scope = scope_for(project, defn.environment, defn.service)
    return Context(defn, scope, ports.runtime, ports.balancer(scope, defn), journal, emit, ports.probe)


def plan_rollout(project: Project, env: str, service: str, image: str | None = None,
                 canary: bool = False, ports: Ports | None = None, force_reason: str | None = None) -> Plan:
    """Read-only: no lock, no LB, no containers, no store rows. What the run would refuse
    (a missing secret value, an unverified image) the plan refuses the same way."""
    defn = project.load_rollout(env, service)
    ports = ports or ports_for(project, defn)
    resolve_secrets(defn)
    rec = resolve_target(project, defn, image, ports.runtime)
    require_verified(project, rec)
    require_evidence(project, defn, rec)
    forced = promotion.check(project, defn, rec, force_reason)  # requires.succeeded_in (issue 14)
    with ports.journal() as journal:
        ctx = _context(project, ports, defn, journal, quiet)
        obs = ctx.observe()
        lost = detached_live(ctx, obs)
    if lost is not None:  # what the run would do first: put it back in rotation
        obs.live = lost
    plan = make_plan(defn, Target(rec.name, rec.version, rec.fingerprint), as_live(obs.live), canary,
                     as_live(obs.standby))
    if forced:
        plan.notes.insert(0, f"--force overrides: {forced}")
    if lost is not None:
        plan.notes.insert(0, f"the load balancer has no fleet in rotation: {lost.colour} {lost.version} "
                             f"(rollout {lost.rollout_id}) is put back in rotation first")
    return plan


def rollout(project: Project, env: str, service: str, image: str | None = None, canary: bool = False,
            on_event: Sink | None = None, ports: Ports | None = None,
            force_reason: str | None = None) -> Outcome:
    """``force_reason``: override an unmet ``requires.succeeded_in``; recorded with who and why."""
    emit = on_event or quiet
    defn = project.load_rollout(env, service)
    ports = ports or ports_for(project, defn, emit)
    environment = resolve_secrets(defn)
    rec = resolve_target(project, defn, image, ports.runtime)
    require_verified(project, rec)
    require_evidence(project, defn, rec)  # what the environment demands (requires:), before any change
    forced = promotion.check(project, defn, rec, force_reason)  # requires.succeeded_in (issue 14)
    target = Target(rec.name, rec.version, rec.fingerprint)
    with ports.journal() as journal:
        ctx = _context(project, ports, defn, journal, emit)
        early = ctx.observe()
        plan = make_plan(defn, target, as_live(early.live), canary)
        # The quick no-op, without lock or LB, only when no interrupted run waits for recovery:
        # otherwise "nothing to do" would leave it (and its dead holder's lock) as it is.
        whole = early.live is None or not degraded_slots(early.live, early.stats, defn.replicas, defn.port)
        if plan.noop and whole and not journal.unfinished(env, service):
            emit("info", {"text": plan.notes[0]})
            return Outcome("noop", early.live.rollout_id if early.live else None, plan.notes[0], plan,
                           url=url_of(defn, ctx.lb))
        override = promotion.record(project, defn, rec, forced, force_reason or "") if forced else None
        if override is not None:
            emit("warn", {"text": f"--force by {override.who}: {forced}; reason: {override.reason}"})
        with reported(project, defn, ctx.lb, emit) as emit, \
                ports.lock(ctx.scope.lock_key, f"rollout {rec.name} {rec.version}",
                           lambda text: emit("warn", {"text": text})) as held:
            ctx.emit = emit
            started = now()
            serving = early.live is not None
            outcome = _locked_rollout(ctx, ports, held, rec, target, canary, environment, serving)
            if override is not None and outcome.rollout_id:
                promotion.link(project, override, outcome.rollout_id)
            if outcome.status in ("succeeded", "failed") and outcome.plan and not outcome.plan.noop:
                attest(project, rec, defn, outcome, started, emit)
            return outcome


def attest(project: Project, rec: builds.BuildRecord, defn: RolloutDefinition, outcome: Outcome,
           started: str, emit: Sink) -> None:
    """A signed rollout attestation (environment, outcome, each verdict's numbers), when the
    project has a signing key. Evidence is a record of what happened: failing to write it is
    said, and changes nothing of the rollout."""
    verdicts = [{"step": v["step"], "weight": v["weight"], "requests": v["samples"], "errors": v["errors"],
                 "error_rate": v["error_rate"], "p99_ms": v["p99_ms"], "passed": v["outcome"] == "pass",
                 "reason": v["summary"]} for v in outcome.verdicts]
    try:
        record_rollout(project, rec, defn.environment, defn.service,
                       "promoted" if outcome.status == "succeeded" else "rolled back", started, now(),
                       verdicts, outcome.rollout_id or "")
    except BakeryError as exc:
        emit("warn", {"text": f"the rollout attestation was not written: {exc}"})


def _fleet_spec(defn: RolloutDefinition, rec: builds.BuildRecord, colour: str, rollout_id: str,
                environment: dict[str, str]) -> FleetSpec:
    h = defn.health
    return FleetSpec(rec.image_id, rec.name, rec.version, rec.fingerprint, colour, rollout_id,
                     defn.replicas, defn.port, h.interval, h.timeout, h.unhealthy_threshold, environment,
                     health_path=h.path, parallelism=defn.parallelism,
                     secret_delivery=defn.secret_delivery)


fleet_spec = _fleet_spec  # reconcile (issue 14) replaces members through the same spec


def _locked_rollout(ctx: Context, ports: Ports, held: HeldLock, rec: builds.BuildRecord, target: Target,
                    canary: bool, environment: dict[str, str], serving: bool) -> Outcome:
    """The rollout proper, under the lock: tidy up what earlier runs left, then plan and drive."""
    defn, emit, journal = ctx.defn, ctx.emit, ctx.journal
    env, service = defn.environment, defn.service
    ctx.lb.ensure(ports.lb_image(emit), serving=serving,
                  on_event=emit)
    recover(ctx, held)
    reattach(ctx, held)
    obs = ctx.observe()
    expire_standby(ctx, obs)
    plan = make_plan(defn, target, as_live(obs.live), canary, as_live(obs.standby))
    if plan.noop and obs.live is not None and (
            slots := degraded_slots(obs.live, obs.stats, defn.replicas, defn.port)):
        spec = _fleet_spec(defn, rec, obs.live.colour, obs.live.rollout_id, environment)
        which = ", ".join(map(str, slots))
        emit("warn", {"text": f"the live {obs.live.colour} fleet ({obs.live.version}) is degraded: "
                              f"member(s) {which} do not serve; replacing them from the same image"})
        done = repair(ctx, held, obs.live, slots, spec)
        return Outcome("succeeded", obs.live.rollout_id, done.success, plan, url=url_of(defn, ctx.lb))
    if plan.noop:
        emit("info", {"text": plan.notes[0]})
        return Outcome("noop", obs.live.rollout_id if obs.live else None, plan.notes[0], plan,
                       url=url_of(defn, ctx.lb))
    for note in plan.notes:
        emit("info", {"text": note})
    emit("plan", plan.as_dict())  # for the report: the plan as planned
    blue, colour = obs.live, plan.colour
    # The new colour's slots must be free: a kept previous fleet there is superseded now.
    for f in obs.fleets:
        if f.colour == colour and (blue is None or f.rollout_id != blue.rollout_id):
            if obs.colour_weight(colour) > 0:
                raise RolloutError(f"{colour} slots still carry traffic; run `bakery status` and "
                                   "`bakery rollback` first")
            traffic.drain(ctx.lb, colour, max(defn.replicas, len(f.members)), 0.0, quiet)
            ctx.runtime.remove_fleet(f)
            emit("info", {"text": f"removed the previous standby fleet {f.colour} {f.version}"})
    rollout_id = new_id()
    journal.begin(RolloutRow(
        id=rollout_id, env=env, service=service, kind="rollout", strategy=plan.strategy,
        image_name=rec.name, version=rec.version, fingerprint=rec.fingerprint, colour=colour,
        prev_id=blue.rollout_id if blue else None, prev_version=blue.version if blue else None,
        prev_colour=blue.colour if blue else None, status="running", started=now(),
        finished=None, reason=""))
    emit("start", {"rollout_id": rollout_id, "colour": colour, "version": f"{rec.name} {rec.version}",
                   "strategy": plan.strategy, "live": blue.version if blue else None})
    spec = _fleet_spec(defn, rec, colour, rollout_id, environment)
    driver = ctx.driver(held)
    final = driver.drive(Run(rollout_id, colour, blue=blue, spec=spec),
                         m.initial(blue is not None, canary_steps(defn) if canary else ()))
    return Outcome(final.phase, rollout_id, final.reason, plan, driver.verdicts, url_of(defn, ctx.lb))


def rollback(project: Project, env: str, service: str, on_event: Sink | None = None,
             ports: Ports | None = None) -> Outcome:
    """All traffic to the previous fleet in one step; that fleet's members are not touched
    (only started first, and health-checked, if they were stopped): invariant 5."""
    emit = on_event or quiet
    defn = project.load_rollout(env, service)
    ports = ports or ports_for(project, defn, emit)
    with ports.journal() as journal:
        ctx = _context(project, ports, defn, journal, emit)
        with reported(project, defn, ctx.lb, emit, thresholds=False) as emit, \
                ports.lock(ctx.scope.lock_key, "rollback", lambda text: emit("warn", {"text": text})) as held:
            ctx.emit = emit
            state = ctx.lb.state()
            if not state.present:
                raise RolloutError(f"{service} is not running in {env}: nothing to roll back")
            if not state.running or not ctx.lb.answers():
                # Stopped with the engine: start it again (it serves nothing while stopped); the
                # live fleet is then put back by reattach below.
                ctx.lb.ensure(state.image_id or "", serving=False,
                              on_event=emit)
            finished = [row for row, decision in recover(ctx, held)
                        if row.kind == "rollback" and decision == "promote"]
            if finished:
                # The rollback asked for was interrupted and has just been completed: rolling back
                # again now would undo it.
                row = finished[-1]
                reason = f"the interrupted rollback {row.id} to {row.version} was completed"
                emit("done", {"status": "succeeded", "reason": reason})
                return Outcome("succeeded", row.id, reason, url=url_of(defn, ctx.lb))
            reattach(ctx, held)
            obs = ctx.observe()
            if obs.live is None:
                raise RolloutError(f"no live fleet of {service} in {env}: nothing to roll back")
            expire_standby(ctx, obs)
            live, prev = obs.live, obs.standby
            if prev is None:
                rows = journal.history(env, service, limit=50)
                raise RolloutError(no_rollback_target(service, env, live.version, rows, defn.keep_previous))
            rollout_id = new_id()
            journal.begin(RolloutRow(
                id=rollout_id, env=env, service=service, kind="rollback", strategy="rollback",
                image_name=prev.image_name, version=prev.version, fingerprint=prev.fingerprint,
                colour=prev.colour, prev_id=live.rollout_id, prev_version=live.version,
                prev_colour=live.colour, status="running", started=now(), finished=None,
                reason=""))
            emit("start", {"rollout_id": rollout_id, "colour": prev.colour, "version": prev.version,
                           "strategy": "rollback", "live": live.version})
            driver = ctx.driver(held)
            final = driver.drive(Run(rollout_id, prev.colour, green=prev, blue=live),
                                 m.bring_back("rollback", has_blue=True, stopped=not prev.running,
                                              success=f"rolled back from {live.version} to {prev.version}"))
            if final.phase != "succeeded":
                raise driver.error or RolloutError(final.reason)
    return Outcome("succeeded", rollout_id, f"{live.version} -> {prev.version}", url=url_of(defn, ctx.lb))


def status(project: Project, env: str | None = None, ports: Ports | None = None) -> list[dict[str, Any]]:
    """Per env+service: live version and colour, weights, health, standby, lock. Read-only."""
    given = ports
    ports = ports or local_ports(project)
    out = []
    with ports.journal() as journal:
        for path in project.rollout_paths():
            if env and path.parent.name != env:
                continue
            defn = project.load_rollout(path.parent.name, path.stem)
            ctx = _context(project, given or ports_for(project, defn), defn, journal, quiet)
            obs = ctx.observe()
            lb_state = ctx.lb.state()
            lost = detached_live(ctx, obs)
            out.append({
                "env": defn.environment, "service": defn.service, "url": url_of(defn, ctx.lb),
                "lb": "running" if obs.stats is not None else ("stopped" if lb_state.present else "absent"),
                **remote_health(ctx.runtime, ctx.scope),
                "live": {"version": obs.live.version, "colour": obs.live.colour,
                         "fingerprint": obs.live.fingerprint[:12], "rollout": obs.live.rollout_id,
                         # HAProxy's checks are the health at rest (no engine healthcheck)
                         "healthy": obs.live.healthy and not degraded_slots(
                             obs.live, obs.stats, defn.replicas, defn.port)} if obs.live else None,
                "standby": {"version": obs.standby.version, "colour": obs.standby.colour,
                            "running": obs.standby.running} if obs.standby else None,
                "weights": {c: obs.colour_weight(c) for c in cmd.COLOURS} if obs.stats else {},
                "servers": traffic.server_rows(obs.stats) if obs.stats else [],
                "fleets": [{"colour": f.colour, "version": f.version, "rollout": f.rollout_id,
                            "members": [asdict(mb) for mb in f.members]} for f in obs.fleets],
                "lock": ports.lock_holder(ctx.scope.lock_key),
                # The live fleet HAProxy lost (restarted LB or engine): the next rollout puts it back.
                "detached": {"image": f"{lost.image_name}:{lost.version}", "version": lost.version,
                             "colour": lost.colour, "rollout": lost.rollout_id,
                             "running": lost.running} if lost else None,
            })
    return out


@dataclass
class Past:
    row: RolloutRow
    steps: list[dict[str, Any]]
    report: str | None  # the report's path, the command that writes it, or None (no samples)
    override: dict[str, Any] | None = None  # a requirement overridden with --force (issue 14)


def history(project: Project, env: str | None = None, service: str | None = None, limit: int = 20,
            with_steps: bool = False) -> list[Past]:
    """Past rollouts, newest first, each with its journaled steps when asked and its report."""
    conn = open_store(project)
    try:
        rows = journal_rows.history(conn, env, service, limit)
        recorded = samples.recorded(conn, [r.id for r in rows])
        forced = overrides.for_rollouts(conn, [r.id for r in rows])
        out = []
        for r in rows:
            path = report_path(project.state_dir, r.id)
            report = (str(path) if path.exists() else
                      f"bakery report {r.id} --env {r.env}" if r.id in recorded else None)
            out.append(Past(r, journal_rows.steps(conn, r.id) if with_steps else [], report,
                            forced[r.id].as_dict() if r.id in forced else None))
        return out
    finally:
        conn.close()
