"""The rollout executor: the only place a rollout does I/O (engine, HAProxy, state store).

It reads what is (fleets by label, HAProxy's server state), asks the pure state machine
what to do, journals each action BEFORE performing it, and reports progress through
``on_event(kind, data)``. Serving containers are never touched: fleets are created,
put in or out of rotation through HAProxy's runtime API, and removed whole.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from bakery.balancer import commands as cmd
from bakery.balancer.haproxy import HAProxy
from bakery.build.fingerprint import fingerprint_tag
from bakery.definitions.rollout import RolloutDefinition
from bakery.engine.client import engine
from bakery.errors import BakeryError, BalancerError, RolloutError, UsageError
from bakery.project import Project
from bakery.rollout import fleet as fleets
from bakery.rollout import machine as m
from bakery.rollout.analysis import Observation, judge
from bakery.rollout.plan import Live, Plan, Target, canary_steps, make_plan, no_rollback_target
from bakery.rollout.reattach import expected_live, standby_expired
from bakery.rollout.scope import Scope, scope_for
from bakery.store import builds, journal, locks, verifications
from bakery.store.db import connect

Sink = Callable[[str, dict[str, Any]], None]


def _quiet(kind: str, data: dict[str, Any]) -> None:
    return None


# -- reading what is ------------------------------------------------------------------------------
@dataclass
class Observed:
    fleets: list[fleets.Fleet]
    stats: dict[str, cmd.ServerStat] | None  # None: no load balancer answers
    live: fleets.Fleet | None = None
    standby: fleets.Fleet | None = None  # the rollback target

    def colour_weight(self, colour: str) -> int:
        if not self.stats:
            return 0
        return sum(s.weight for s in self.stats.values()
                   if s.colour == colour and not s.in_maint and s.status != "DRAIN")


def observe(scope: Scope, lb: HAProxy) -> Observed:
    """Fleets from engine labels and weights from HAProxy; the live fleet is the one holding weight."""
    found = fleets.list_fleets(scope)
    stats = None
    container = lb.container()
    if container is not None and container.status == "running" and lb.answers():
        stats = lb.stats()
    obs = Observed(found, stats)
    if stats is not None:
        addrs = {s.name: s.addr.split(":")[0] for s in stats.values() if not s.in_maint}
        for colour in cmd.COLOURS:
            if obs.colour_weight(colour) <= 0:
                continue
            for f in reversed(found):
                if f.colour == colour and any(addrs.get(cmd.server_name(colour, mb.index)) == mb.ip
                                              for mb in f.members):
                    obs.live = f
                    break
            if obs.live:
                break
    if obs.live is not None:
        # The rollback target: the newest fleet of the other colour that carries no traffic
        # (a fleet holding canary weight belongs to a rollout in progress or interrupted).
        for f in reversed(found):
            if (f.colour != obs.live.colour and f.rollout_id != obs.live.rollout_id
                    and obs.colour_weight(f.colour) == 0):
                obs.standby = f
                break
    return obs


def live_of(obs: Observed) -> Live | None:
    f = obs.live
    return Live(f.version, f.fingerprint, f.colour, f.rollout_id) if f else None


def standby_of(obs: Observed) -> Live | None:
    f = obs.standby
    return Live(f.version, f.fingerprint, f.colour, f.rollout_id) if f else None


# -- inputs -----------------------------------------------------------------------------------------
def resolve_target(project: Project, defn: RolloutDefinition, image: str | None) -> builds.BuildRecord:
    """--image VERSION, --image NAME:VERSION, the definition's pinned version, or the newest build."""
    name, version = defn.image_name, defn.image_version
    if image:
        if ":" in image:
            name, _, version = image.partition(":")
        else:
            version = image
    conn = connect(project.db_path)
    try:
        found = builds.find(conn, name, version)
    finally:
        conn.close()
    what = f"{name} {version}" if version else name
    if not found:
        raise UsageError(f"no build of {what} in this project; run `bakery build {name}` first"
                         + (f" (with version: {version} in images/{name}/image.yaml)" if version else ""))
    rec = found[0]
    try:
        engine().images.get(fingerprint_tag(rec.name, rec.fingerprint))
    except Exception as exc:  # noqa: BLE001 - docker NotFound or API errors
        raise RolloutError(f"the image {fingerprint_tag(rec.name, rec.fingerprint)} recorded for {what} "
                           f"is not in the engine any more; run `bakery build {name}`") from exc
    return rec


def require_verified(project: Project, rec: builds.BuildRecord) -> None:
    conn = connect(project.db_path)
    try:
        ok = verifications.is_verified(conn, rec.fingerprint)
        last = verifications.latest(conn, rec.fingerprint)
    finally:
        conn.close()
    if not ok:
        state = "failed its last verification" if last else "has not passed verification"
        raise RolloutError(f"{rec.name} {rec.version} (fp-{rec.short_fingerprint}) {state}; "
                           f"run `bakery verify {rec.name}:{rec.version}` first")


def resolve_secrets(defn: RolloutDefinition) -> dict[str, str]:
    """Values from BAKERY_SECRET_<NAME>; a missing one stops everything before any change."""
    missing = [n for n in defn.secrets if f"BAKERY_SECRET_{n}" not in os.environ]
    if missing:
        raise UsageError(f"{defn.path}: secrets: no value for {', '.join(missing)}; set "
                         + ", ".join(f"BAKERY_SECRET_{n}" for n in missing) + " in the environment")
    return {n: os.environ[f"BAKERY_SECRET_{n}"] for n in defn.secrets}


def ensure_lb_image(project: Project, emit: Sink) -> str:
    """The load balancer's image, built on demand and, like every image that serves traffic,
    verified before use (invariant 3); a verification already recorded is not repeated."""
    from bakery.build.docker_builder import build
    from bakery.verify.runner import verify

    defn = project.load_image("lb")
    outcome = build(project, defn, on_event=lambda kind, text: emit("build", {"kind": kind, "text": text})
                    if kind == "step" else None)
    rec = outcome.record
    conn = connect(project.db_path)
    try:
        verified = verifications.is_verified(conn, rec.fingerprint)
    finally:
        conn.close()
    if not verified:
        emit("info", {"text": f"verifying the load balancer image lb {rec.version} "
                              f"(fp-{rec.short_fingerprint})"})
        report = verify(project, rec.name, rec.version, fingerprint=rec.fingerprint)
        if not report.passed:
            raise RolloutError(f"the load balancer image lb {rec.version} failed verification; "
                               f"see `bakery verify lb:{rec.version}`")
    return rec.image_id


# -- results ------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    status: str  # succeeded | failed | noop | planned
    rollout_id: str | None
    reason: str = ""
    plan: Plan | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def url_of(defn: RolloutDefinition, lb: HAProxy | None = None) -> str:
    """Where the service answers: the LB's published address as the engine has it (a serving LB
    keeps its address when `listen:` changes), else the definition's."""
    host, port = defn.listen_host, defn.listen_port
    if lb is not None and (published := lb.published()) is not None:
        host, port = published
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


# -- the executor --------------------------------------------------------------------------------------
class Executor:
    """Performs state-machine actions for one rollout; each returns the event it produced, if any."""

    def __init__(self, project: Project, defn: RolloutDefinition, scope: Scope, lb: HAProxy,
                 rec: builds.BuildRecord, colour: str, rollout_id: str, blue: fleets.Fleet | None,
                 environment: dict[str, str], emit: Sink, held: locks.Held | None = None):
        self.project, self.defn, self.scope, self.lb, self.rec = project, defn, scope, lb, rec
        self.colour, self.rollout_id, self.blue, self.environment, self.emit = (
            colour, rollout_id, blue, environment, emit)
        self.held = held
        self.green: fleets.Fleet | None = None
        self.verdicts: list[dict[str, Any]] = []

    @property
    def blue_colour(self) -> str:
        return cmd.other(self.colour)

    def drive(self, state: m.State) -> m.State:
        conn = connect(self.project.db_path)
        try:
            state, actions = m.transition(state, m.Begin())
            while True:
                self.emit("phase", {"phase": state.phase, "step": state.step})
                event: m.Event | None = None
                for action in actions:
                    if self.held is not None:
                        self.held.check()  # outside the try below: a lost lock is no reason to unwind
                    journal.step(conn, self.rollout_id, state.phase, type(action).__name__, asdict(action))
                    try:
                        produced = self.perform(action, conn)
                    except (BakeryError, KeyboardInterrupt) as exc:
                        if state.done:
                            raise  # the unwind itself failed: say so, loudly
                        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
                        self.emit("warn", {"text": f"stopping: {reason}"})
                        event = m.Abort(reason)
                        break
                    if produced is not None:
                        event = produced
                if state.done:
                    return state
                if event is None:
                    raise RolloutError(f"internal: no event after {actions!r} in {state.phase}")
                state, actions = m.transition(state, event)
        finally:
            conn.close()

    def perform(self, action: m.Action, conn) -> m.Event | None:  # noqa: ANN001 - sqlite3 connection
        if isinstance(action, m.StartGreen):
            return self._start_green()
        if isinstance(action, m.WaitGreenHealthy):
            return self._wait_green()
        if isinstance(action, m.SetWeights):
            return self._set_weights(action.green)
        if isinstance(action, m.Analyse):
            return self._analyse(action)
        if isinstance(action, m.RestoreBlue):
            self._restore_blue()
            return None
        if isinstance(action, m.RemoveGreen):
            self._remove_green()
            return None
        if isinstance(action, m.DrainBlue):
            drain(self.lb, self.blue_colour, len(self.blue.members) if self.blue else 0,
                  self.defn.drain_timeout, self.emit)
            return m.Drained()
        if isinstance(action, m.RetireOlder):
            keep = {self.rollout_id} | ({self.blue.rollout_id} if self.blue else set())
            retire_except(self.scope, keep, self.emit)
            return None
        if isinstance(action, m.Finish):
            journal.finish(conn, self.rollout_id, action.status, action.reason)
            self.emit("done", {"status": action.status, "reason": action.reason})
            return None
        raise RolloutError(f"internal: unknown action {action!r}")

    # -- green -------------------------------------------------------------------------------------
    def _start_green(self) -> None:
        n = self.defn.replicas
        self.emit("info", {"text": f"starting {n} {self.colour} container(s) from {self.rec.name} "
                                   f"{self.rec.version} (fp-{self.rec.short_fingerprint})"})
        h = self.defn.health
        self.green = fleets.start_fleet(
            self.scope, image_id=self.rec.image_id, image_name=self.rec.name, version=self.rec.version,
            fingerprint=self.rec.fingerprint, colour=self.colour, rollout_id=self.rollout_id,
            replicas=n, port=self.defn.port, health_interval=h.interval, health_timeout=h.timeout,
            health_retries=h.unhealthy_threshold, environment=self.environment)
        return None

    def _wait_green(self) -> m.Event:
        try:
            green = fleets.wait_healthy(self.scope, self.rollout_id, self.defn.health.start_timeout)
        except RolloutError as exc:
            return m.GreenUnhealthy(str(exc))
        self.green = green
        self.emit("health", {"colour": self.colour, "members": [
            {"name": mb.name, "health": mb.health, "ip": mb.ip} for mb in green.members]})
        try:
            enlist(self.lb, self.colour, green, self.defn)
            wait_lb_up(self.lb, self.colour, len(green.members), self.defn.health.start_timeout)
        except RolloutError as exc:
            return m.GreenUnhealthy(str(exc))
        self.emit("info", {"text": f"{self.colour}: all {len(green.members)} healthy in Docker and UP in "
                                   "HAProxy (weight 0)"})
        return m.GreenHealthy()

    def _set_weights(self, green_percent: int) -> m.Event:
        ng = len(self.green.members) if self.green else self.defn.replicas
        nb = len(self.blue.members) if self.blue else 0
        if nb == 0 or green_percent == 100:
            weights = {"green": 100, "blue": 0}
        else:
            weights = cmd.split_weights(green_percent, ng, nb)
        # Raise the side that gains first, so the total never drops to zero.
        order = [("green", ng), ("blue", nb)] if green_percent >= 50 else [("blue", nb), ("green", ng)]
        for side, count in order:
            colour = self.colour if side == "green" else self.blue_colour
            for i in range(1, count + 1):
                self.lb.send(cmd.set_weight(colour, i, weights[side]))
        self.emit("weights", {"green_percent": green_percent, "colour": self.colour,
                              "per_server": {self.colour: weights["green"],
                                             self.blue_colour: weights["blue"]}})
        return m.WeightsSet(green_percent)

    def _analyse(self, action: m.Analyse) -> m.Event:
        a = self.defn.analysis
        green = self.green
        assert green is not None
        names = [cmd.server_name(self.colour, mb.index) for mb in green.members]
        before = self.lb.stats()
        latencies: list[float] = []
        errors = 0
        started = time.monotonic()
        deadline = started + action.pause
        gap = action.pause / a.probes if a.probes else action.pause
        url_path = "/"
        next_tick = started + 1.0
        with httpx.Client(timeout=self.defn.health.timeout) as client:
            for i in range(a.probes):
                mb = green.members[i % len(green.members)]
                t0 = time.monotonic()
                try:
                    r = client.get(f"http://{mb.ip}:{self.defn.port}{url_path}")
                    if r.status_code >= 500:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.monotonic() - t0) * 1000)
                if time.monotonic() >= next_tick:
                    next_tick += 1.0
                    self._tick(action, len(latencies), errors)
                wait = started + gap * (i + 1) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
        while time.monotonic() < deadline:
            time.sleep(min(1.0, deadline - time.monotonic()))
            self._tick(action, len(latencies), errors)
        after = self.lb.stats()
        lb_req = sum(after[n].responses - before[n].responses for n in names if n in after and n in before)
        lb_err = sum(after[n].hrsp_5xx - before[n].hrsp_5xx for n in names if n in after and n in before)
        rtimes = [after[n].rtime_ms for n in names if n in after]
        obs = Observation(lb_req, lb_err, sum(rtimes) / len(rtimes) if rtimes else 0.0,
                          tuple(latencies), errors)
        result = judge(obs, a)
        record = {"step": action.step + 1, "weight": action.weight, "lb_requests": lb_req,
                  "lb_errors": lb_err, "probes": len(latencies), "probe_errors": errors,
                  **result.as_dict(), "summary": result.summary()}
        self.verdicts.append(record)
        self.emit("verdict", record)
        return m.Verdict(result.outcome, result.summary())

    def _tick(self, action: m.Analyse, probes: int, errors: int) -> None:
        try:
            stats = self.lb.stats()
        except BalancerError:
            return
        self.emit("tick", {"step": action.step + 1, "weight": action.weight, "probes": probes,
                           "probe_errors": errors, "servers": server_rows(stats)})

    def _restore_blue(self) -> None:
        if not self.blue:
            return
        for i in range(1, len(self.blue.members) + 1):
            self.lb.send(cmd.set_weight(self.blue_colour, i, 100))
        if self.green:
            for mb in self.green.members:
                self.lb.send(cmd.set_weight(self.colour, mb.index, 0))
        self.emit("weights", {"green_percent": 0, "colour": self.colour,
                              "per_server": {self.colour: 0, self.blue_colour: 100}})

    def _remove_green(self) -> None:
        green = self.green
        count = max(self.defn.replicas, len(green.members) if green else 0)
        drain(self.lb, self.colour, count, min(self.defn.drain_timeout, 10.0), self.emit)
        try:
            green = fleets.find_fleet(self.scope, self.rollout_id)
        except RolloutError:
            return
        fleets.remove_fleet(green)
        self.emit("info", {"text": f"removed the {self.colour} fleet ({green.version})"})


# -- balancer steps shared by rollout, rollback and recovery ---------------------------------------------
def enlist(lb: HAProxy, colour: str, fleet: fleets.Fleet, defn: RolloutDefinition) -> None:
    """Point the colour's slots at the fleet, at weight 0, and let HAProxy start checking them."""
    for mb in fleet.members:
        if not mb.ip:
            raise RolloutError(f"{mb.name} has no address on {lb.scope.network}")
        lb.send(cmd.set_weight(colour, mb.index, 0))
        lb.send(cmd.set_addr(colour, mb.index, mb.ip, defn.port))
        lb.send(cmd.set_state(colour, mb.index, "ready"))


def wait_lb_up(lb: HAProxy, colour: str, count: int, timeout: float) -> None:
    names = [cmd.server_name(colour, i) for i in range(1, count + 1)]

    def pending(stats: dict[str, cmd.ServerStat]) -> bool:
        return not all(n in stats and stats[n].status.startswith("UP") for n in names)

    try:
        for attempt in Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(0.2),
                                retry=retry_if_result(pending)):
            with attempt:
                stats = lb.stats()
            if not attempt.retry_state.outcome.failed:
                attempt.retry_state.set_result(stats)
    except RetryError:
        stats = lb.stats()
        detail = ", ".join(f"{n}: {stats[n].status} ({stats[n].check_status})" for n in names if n in stats)
        raise RolloutError(f"HAProxy's health check never passed for {colour} within {timeout:g}s: "
                           f"{detail}") from None


def drain(lb: HAProxy, colour: str, count: int, timeout: float, emit: Sink) -> None:
    """Stop new requests to a colour, wait for its sessions to end (or the timeout), then maintenance."""
    if count <= 0:
        return
    for i in range(1, count + 1):
        lb.send(cmd.set_weight(colour, i, 0))
        lb.send(cmd.set_state(colour, i, "drain"))
    names = [cmd.server_name(colour, i) for i in range(1, count + 1)]
    deadline = time.monotonic() + timeout
    sessions = 0
    while True:
        stats = lb.stats()
        sessions = sum(stats[n].scur for n in names if n in stats)
        if sessions == 0 or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    emit("info", {"text": f"drained {colour}" + (f" ({sessions} session(s) left at the timeout)"
                                                  if sessions else "")})
    for i in range(1, count + 1):
        lb.send(cmd.set_state(colour, i, "maint"))


def retire_except(scope: Scope, keep: set[str], emit: Sink) -> None:
    for f in fleets.list_fleets(scope):
        if f.rollout_id not in keep:
            fleets.remove_fleet(f)
            emit("info", {"text": f"removed older fleet {f.colour} {f.version} (rollout {f.rollout_id})"})


def server_rows(stats: dict[str, cmd.ServerStat]) -> list[dict[str, Any]]:
    return [{"server": s.name, "status": s.status, "weight": s.weight, "sessions": s.scur,
             "requests": s.responses, "5xx": s.hrsp_5xx, "addr": s.addr}
            for s in stats.values() if not (s.in_maint and s.addr.startswith("127.0.0.1"))
            and not (s.in_maint and s.stot == 0 and not s.addr)]


# -- recovery and housekeeping ----------------------------------------------------------------------------
def recover(project: Project, scope: Scope, lb: HAProxy, defn: RolloutDefinition,
            emit: Sink) -> list[tuple[journal.RolloutRow, str]]:
    """Finish or unwind rollouts the journal says are unfinished (their holder is gone: we hold the lock).

    Returns each row with what was decided ('promote' finished it, 'unwind' undid it).
    """
    done: list[tuple[journal.RolloutRow, str]] = []
    conn = connect(project.db_path)
    try:
        for row in journal.unfinished(conn, scope.env, scope.service):
            stats = lb.stats()
            obs = Observed(fleets.list_fleets(scope), stats)
            mine = next((f for f in obs.fleets if f.rollout_id == row.id), None)
            green_w, blue_w = obs.colour_weight(row.colour), obs.colour_weight(cmd.other(row.colour))
            if row.kind == "reattach":
                # Nothing to undo: the fleet was live before; it carries traffic or it does not.
                had = green_w > 0
                journal.step(conn, row.id, "recovery", "finish" if had else "unwind",
                             {"green_weight": green_w, "blue_weight": blue_w})
                journal.finish(conn, row.id, "succeeded" if had else "unwound",
                               "interrupted; " + ("it already had traffic" if had else "tried again"))
                done.append((row, "promote" if had else "unwind"))
                continue
            if row.kind == "rollback":
                decision = m.recovery_rollback(green_w, blue_w)
            else:
                decision = m.recovery(green_w, blue_w, bool(mine and mine.running))
            journal.step(conn, row.id, "recovery", decision, {"green_weight": green_w, "blue_weight": blue_w})
            prev = next((f for f in obs.fleets if f.rollout_id == row.prev_id), None)
            if decision == "promote":
                drain(lb, cmd.other(row.colour), len(prev.members) if prev else defn.replicas,
                      defn.drain_timeout, emit)
                journal.finish(conn, row.id, "succeeded", "completed by the next run after an interruption")
                emit("warn", {"text": f"an interrupted {row.kind} {row.id} ({row.version}) already had "
                                      "traffic; finished it"})
                done.append((row, decision))
                continue
            if prev is not None and prev.running and row.kind == "rollout":
                for mb in prev.members:
                    lb.send(cmd.set_weight(row.prev_colour or cmd.other(row.colour), mb.index, 100))
            if row.kind == "rollout":
                drain(lb, row.colour, max(defn.replicas, len(mine.members) if mine else 0), 5.0, emit)
                if mine is not None:
                    fleets.remove_fleet(mine)
                undone = "its new containers removed"
            else:  # a rollback that had not moved traffic yet: its target's slots back out of rotation
                if blue_w > 0:
                    sizes = [len(f.members) for f in obs.fleets if f.colour == row.colour]
                    drain(lb, row.colour, max([defn.replicas, *sizes]), 0.0, _quiet)
                undone = "the fleet it was rolling back to is kept as it was"
            journal.finish(conn, row.id, "unwound", "interrupted; unwound by the next run")
            emit("warn", {"text": f"an interrupted {row.kind} {row.id} ({row.version}) was unwound: "
                                  f"traffic stays on the fleet that was live, {undone}"})
            done.append((row, decision))
    finally:
        conn.close()
    return done


def expire_standby(project: Project, scope: Scope, defn: RolloutDefinition, obs: Observed,
                   emit: Sink) -> None:
    """Remove the previous fleet once the rollback window (keep_previous) has passed, counted
    from when the live fleet became live (see reattach.standby_expired)."""
    if obs.standby is None or obs.live is None:
        return
    conn = connect(project.db_path)
    try:
        rows = journal.history(conn, scope.env, scope.service, limit=50)
    finally:
        conn.close()
    if standby_expired(obs.live, rows, datetime.now(UTC), defn.keep_previous):
        fleets.remove_fleet(obs.standby)
        emit("info", {"text": f"the rollback window for {obs.standby.version} has passed; removed it"})
        obs.standby = None


def detached_live(project: Project, scope: Scope, obs: Observed) -> fleets.Fleet | None:
    """The fleet that should be live but that HAProxy has not in rotation (its runtime state
    was lost: LB container restarted or recreated, engine restarted), or None."""
    if obs.live is not None or not obs.fleets:
        return None
    conn = connect(project.db_path)
    try:
        rows = journal.history(conn, scope.env, scope.service, limit=50)
    finally:
        conn.close()
    return expected_live(obs.fleets, rows)


def reattach(project: Project, scope: Scope, lb: HAProxy, defn: RolloutDefinition, emit: Sink) -> None:
    """Put the live fleet back in rotation after HAProxy lost its runtime state.

    The fleet is not changed: a running one only gets its slots back (after Docker and HAProxy
    report it healthy, invariant 3); a stopped one (engine restart) is started and health-checked
    first, as a rollback does.
    """
    fleet = detached_live(project, scope, observe(scope, lb))
    if fleet is None:
        return
    emit("warn", {"text": f"the load balancer has no fleet in rotation (its runtime state was lost: "
                          f"restarted?) while {fleet.colour} {fleet.version} (rollout {fleet.rollout_id}) "
                          "is the live fleet; putting it back in rotation"})
    rid = journal.new_id()
    conn = connect(project.db_path)
    try:
        journal.begin(conn, journal.RolloutRow(
            id=rid, env=scope.env, service=scope.service, kind="reattach", strategy="reattach",
            image_name=fleet.image_name, version=fleet.version, fingerprint=fleet.fingerprint,
            colour=fleet.colour, prev_id=fleet.rollout_id, prev_version=None, prev_colour=None,
            status="running", started=journal.now(), finished=None, reason=""))
        try:
            if not fleet.running:
                journal.step(conn, rid, "reattach", "StartStopped", {"fleet": fleet.rollout_id})
                fleets.start_stopped(scope, fleet)
            fleet = fleets.wait_healthy(scope, fleet.rollout_id, defn.health.start_timeout)
            journal.step(conn, rid, "reattach", "Enlist", {"colour": fleet.colour})
            enlist(lb, fleet.colour, fleet, defn)
            wait_lb_up(lb, fleet.colour, len(fleet.members), defn.health.start_timeout)
            journal.step(conn, rid, "reattach", "SetWeights", {"colour": fleet.colour, "weight": 100})
            for mb in fleet.members:
                lb.send(cmd.set_weight(fleet.colour, mb.index, 100))
        except (BakeryError, KeyboardInterrupt) as exc:
            journal.finish(conn, rid, "failed", str(exc) or "interrupted")
            raise
        journal.finish(conn, rid, "succeeded", f"{fleet.colour} {fleet.version} back in rotation")
    finally:
        conn.close()
    emit("weights", {"green_percent": 100, "colour": fleet.colour,
                     "per_server": {fleet.colour: 100, cmd.other(fleet.colour): 0}})


# -- entry points ------------------------------------------------------------------------------------------
def plan_rollout(project: Project, env: str, service: str, image: str | None = None,
                 canary: bool = False) -> Plan:
    """Read-only: no lock, no LB, no containers, no store rows. What the run would refuse
    (a missing secret value, an unverified image) the plan refuses the same way."""
    defn = project.load_rollout(env, service)
    resolve_secrets(defn)
    rec = resolve_target(project, defn, image)
    require_verified(project, rec)
    scope = scope_for(project, env, service)
    obs = observe(scope, HAProxy(scope, defn))
    lost = detached_live(project, scope, obs)
    if lost is not None:  # what the run would do first: put it back in rotation
        obs.live = lost
    plan = make_plan(defn, Target(rec.name, rec.version, rec.fingerprint), live_of(obs), canary,
                     standby_of(obs))
    if lost is not None:
        plan.notes.insert(0, f"the load balancer has no fleet in rotation: {lost.colour} {lost.version} "
                             f"(rollout {lost.rollout_id}) is put back in rotation first")
    return plan


def rollout(project: Project, env: str, service: str, image: str | None = None, canary: bool = False,
            on_event: Sink | None = None) -> Outcome:
    emit = on_event or _quiet
    defn = project.load_rollout(env, service)
    environment = resolve_secrets(defn)
    rec = resolve_target(project, defn, image)
    require_verified(project, rec)
    scope = scope_for(project, env, service)
    lb = HAProxy(scope, defn)
    target = Target(rec.name, rec.version, rec.fingerprint)
    early = observe(scope, lb)
    plan = make_plan(defn, target, live_of(early), canary)
    conn = connect(project.db_path)
    try:
        interrupted = journal.unfinished(conn, env, service)
    finally:
        conn.close()
    # The quick no-op, without lock or LB, only when no interrupted run waits for recovery:
    # otherwise "nothing to do" would leave it (and its dead holder's lock) as it is.
    if plan.noop and not interrupted:
        emit("info", {"text": plan.notes[0]})
        return Outcome("noop", early.live.rollout_id if early.live else None, plan.notes[0], plan,
                       url=url_of(defn, lb))
    with locks.Held(project.db_path, scope.lock_key, purpose=f"rollout {rec.name} {rec.version}",
                    on_takeover=lambda text: emit("warn", {"text": text})) as held:
        lb_image = ensure_lb_image(project, emit)
        lb.ensure(lb_image, serving=early.live is not None,
                  on_event=lambda kind, text: emit(kind, {"text": text}))
        recover(project, scope, lb, defn, emit)
        reattach(project, scope, lb, defn, emit)
        obs = observe(scope, lb)
        expire_standby(project, scope, defn, obs, emit)
        plan = make_plan(defn, target, live_of(obs), canary, standby_of(obs))
        if plan.noop:
            emit("info", {"text": plan.notes[0]})
            return Outcome("noop", obs.live.rollout_id if obs.live else None, plan.notes[0], plan,
                           url=url_of(defn, lb))
        for note in plan.notes:
            emit("info", {"text": note})
        blue = obs.live
        colour = plan.colour
        # The new colour's slots must be free: a kept previous fleet there is superseded now.
        for f in obs.fleets:
            if f.colour == colour and (blue is None or f.rollout_id != blue.rollout_id):
                if obs.colour_weight(colour) > 0:
                    raise RolloutError(f"{colour} slots still carry traffic; run `bakery status` and "
                                       "`bakery rollback` first")
                drain(lb, colour, max(defn.replicas, len(f.members)), 0.0, _quiet)
                fleets.remove_fleet(f)
                emit("info", {"text": f"removed the previous standby fleet {f.colour} {f.version}"})
        rollout_id = journal.new_id()
        conn = connect(project.db_path)
        try:
            journal.begin(conn, journal.RolloutRow(
                id=rollout_id, env=env, service=service, kind="rollout", strategy=plan.strategy,
                image_name=rec.name, version=rec.version, fingerprint=rec.fingerprint, colour=colour,
                prev_id=blue.rollout_id if blue else None, prev_version=blue.version if blue else None,
                prev_colour=blue.colour if blue else None, status="running", started=journal.now(),
                finished=None, reason=""))
        finally:
            conn.close()
        emit("start", {"rollout_id": rollout_id, "colour": colour, "version": f"{rec.name} {rec.version}",
                       "strategy": plan.strategy, "live": blue.version if blue else None})
        executor = Executor(project, defn, scope, lb, rec, colour, rollout_id, blue, environment, emit,
                            held)
        state = m.initial(blue is not None, canary_steps(defn) if canary else ())
        final = executor.drive(state)
    return Outcome(final.phase, rollout_id, final.reason, plan, executor.verdicts, url_of(defn, lb))


def rollback(project: Project, env: str, service: str, on_event: Sink | None = None) -> Outcome:
    """All traffic to the previous fleet in one step; that fleet's containers are not touched
    (only started first, and health-checked, if they were stopped)."""
    emit = on_event or _quiet
    defn = project.load_rollout(env, service)
    scope = scope_for(project, env, service)
    lb = HAProxy(scope, defn)
    with locks.Held(project.db_path, scope.lock_key, purpose="rollback",
                    on_takeover=lambda text: emit("warn", {"text": text})):
        container = lb.container()
        if container is None:
            raise RolloutError(f"{service} is not running in {env}: nothing to roll back")
        if container.status != "running" or not lb.answers():
            # Stopped with the engine: start it again (it serves nothing while stopped); the
            # live fleet is then put back by reattach below.
            lb.ensure(container.image.id, serving=False,
                      on_event=lambda kind, text: emit(kind, {"text": text}))
        finished = [row for row, decision in recover(project, scope, lb, defn, emit)
                    if row.kind == "rollback" and decision == "promote"]
        if finished:
            # The rollback asked for was interrupted and has just been completed: rolling back
            # again now would undo it.
            row = finished[-1]
            reason = f"the interrupted rollback {row.id} to {row.version} was completed"
            emit("done", {"status": "succeeded", "reason": reason})
            return Outcome("succeeded", row.id, reason, url=url_of(defn, lb))
        reattach(project, scope, lb, defn, emit)
        obs = observe(scope, lb)
        if obs.live is None:
            raise RolloutError(f"no live fleet of {service} in {env}: nothing to roll back")
        expire_standby(project, scope, defn, obs, emit)
        prev = obs.standby
        if prev is None:
            conn = connect(project.db_path)
            try:
                rows = journal.history(conn, env, service, limit=50)
            finally:
                conn.close()
            raise RolloutError(no_rollback_target(service, env, obs.live.version, rows, defn.keep_previous))
        live = obs.live
        rollout_id = journal.new_id()
        conn = connect(project.db_path)
        try:
            journal.begin(conn, journal.RolloutRow(
                id=rollout_id, env=env, service=service, kind="rollback", strategy="rollback",
                image_name=prev.image_name, version=prev.version, fingerprint=prev.fingerprint,
                colour=prev.colour, prev_id=live.rollout_id, prev_version=live.version,
                prev_colour=live.colour, status="running", started=journal.now(), finished=None, reason=""))
            emit("start", {"rollout_id": rollout_id, "colour": prev.colour, "version": prev.version,
                           "strategy": "rollback", "live": live.version})
            switched = False
            try:
                if not prev.running:
                    journal.step(conn, rollout_id, "rollback", "StartStopped", {"fleet": prev.rollout_id})
                    emit("info", {"text": f"starting the stopped {prev.colour} fleet ({prev.version})"})
                    fleets.start_stopped(scope, prev)
                    prev = fleets.wait_healthy(scope, prev.rollout_id, defn.health.start_timeout)
                stats = lb.stats()
                ready = all(stats.get(cmd.server_name(prev.colour, mb.index)) is not None
                            and stats[cmd.server_name(prev.colour, mb.index)].addr.split(":")[0] == mb.ip
                            and stats[cmd.server_name(prev.colour, mb.index)].status.startswith("UP")
                            for mb in prev.members)
                if not ready:
                    journal.step(conn, rollout_id, "rollback", "Enlist", {"colour": prev.colour})
                    enlist(lb, prev.colour, prev, defn)
                    wait_lb_up(lb, prev.colour, len(prev.members), defn.health.start_timeout)
                journal.step(conn, rollout_id, "rollback", "SetWeights",
                             {"colour": prev.colour, "weight": 100})
                switched = True
                for mb in prev.members:
                    lb.send(cmd.set_weight(prev.colour, mb.index, 100))
                emit("weights", {"green_percent": 100, "colour": prev.colour,
                                 "per_server": {prev.colour: 100, live.colour: 0}})
                journal.step(conn, rollout_id, "rollback", "DrainLive", {"colour": live.colour})
                drain(lb, live.colour, len(live.members), defn.drain_timeout, emit)
            except (BakeryError, KeyboardInterrupt) as exc:
                reason = str(exc) or "interrupted"
                if not switched:
                    journal.finish(conn, rollout_id, "failed", reason)
                    raise
                # The target already has weight: going forward is the safe way out. Cut the drain
                # short (maintenance keeps open sessions); if even that fails, the row stays
                # 'running' so the next run's recovery finishes the rollback.
                emit("warn", {"text": f"stopping the drain of {live.colour}: {reason}"})
                try:
                    for i in range(1, len(live.members) + 1):
                        lb.send(cmd.set_weight(live.colour, i, 0))
                        lb.send(cmd.set_state(live.colour, i, "maint"))
                except BakeryError:
                    raise exc from None
                outcome = f"rolled back from {live.version} to {prev.version}; drain cut short: {reason}"
            else:
                outcome = f"rolled back from {live.version} to {prev.version}"
            journal.finish(conn, rollout_id, "succeeded", outcome)
            emit("done", {"status": "succeeded", "reason": outcome})
        finally:
            conn.close()
    return Outcome("succeeded", rollout_id, f"{live.version} -> {prev.version}", url=url_of(defn, lb))


def status(project: Project, env: str | None = None) -> list[dict[str, Any]]:
    """Per env+service: live version and colour, weights, health, standby, lock. Read-only."""
    out = []
    conn = connect(project.db_path)
    try:
        for path in project.rollout_paths():
            if env and path.parent.name != env:
                continue
            defn = project.load_rollout(path.parent.name, path.stem)
            scope = scope_for(project, defn.environment, defn.service)
            lb = HAProxy(scope, defn)
            obs = observe(scope, lb)
            lock = locks.get(conn, scope.lock_key)
            lost = detached_live(project, scope, obs)
            out.append({
                "env": defn.environment, "service": defn.service, "url": url_of(defn, lb),
                "lb": "running" if obs.stats is not None else "absent",
                "live": {"version": obs.live.version, "colour": obs.live.colour,
                         "fingerprint": obs.live.fingerprint[:12], "rollout": obs.live.rollout_id,
                         "healthy": obs.live.healthy} if obs.live else None,
                "standby": {"version": obs.standby.version, "colour": obs.standby.colour,
                            "running": obs.standby.running} if obs.standby else None,
                "weights": {c: obs.colour_weight(c) for c in cmd.COLOURS} if obs.stats else {},
                "servers": server_rows(obs.stats) if obs.stats else [],
                "fleets": [{"colour": f.colour, "version": f.version, "rollout": f.rollout_id,
                            "members": [asdict(mb) for mb in f.members]} for f in obs.fleets],
                "lock": locks.describe_with_state(lock) if lock else None,
                # The live fleet HAProxy lost (restarted LB or engine): the next rollout puts it back.
                "detached": {"image": f"{lost.image_name}:{lost.version}", "version": lost.version,
                             "colour": lost.colour, "rollout": lost.rollout_id,
                             "running": lost.running} if lost else None,
            })
    finally:
        conn.close()
    return out
