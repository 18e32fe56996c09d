"""The driver: performs state-machine actions through the ports, journaling each BEFORE it acts.

One driver serves every path (rollout, rollback, reattach, recovery); what differs is the
state it is given and the ``Run`` it acts on. Serving members are never touched: fleets are
created, put in or out of rotation through the balancer, and removed whole.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from bakery.balancer import commands as cmd
from bakery.definitions.rollout import RolloutDefinition
from bakery.engine.scope import Scope
from bakery.errors import BakeryError, RolloutError
from bakery.model.fleet import Fleet
from bakery.rollout import machine as m
from bakery.rollout import traffic
from bakery.rollout.canary import Probe, analyse_step
from bakery.rollout.ports import Balancer, FleetSpec, HeldLock, Journal, Runtime, Sink

MIN_WAIT = 1.0  # what a wait still gets when the start used up start_timeout: one look, not none


@dataclass
class Run:
    """What one journaled run acts on. "green" is the fleet traffic moves to, "blue" the one it
    moves from (for a rollback: the fleet rolled back to, and the live fleet it replaces)."""

    rollout_id: str
    colour: str
    green: Fleet | None = None
    blue: Fleet | None = None
    spec: FleetSpec | None = None  # a rollout's new fleet; None when an existing one is brought back
    started: float | None = None  # monotonic time its members began to start: start_timeout counts from it

    @property
    def fleet_id(self) -> str:
        """The rollout id the green fleet's members carry (a brought-back fleet keeps its own)."""
        if self.spec is not None:
            return self.spec.rollout_id
        return self.green.rollout_id if self.green else self.rollout_id

    @property
    def blue_colour(self) -> str:
        return self.blue.colour if self.blue else ("blue" if self.colour == "green" else "green")


class Driver:
    def __init__(self, scope: Scope, defn: RolloutDefinition, runtime: Runtime, lb: Balancer,
                 journal: Journal, emit: Sink, held: HeldLock | None = None, probe: Probe | None = None):
        self.scope, self.defn, self.runtime, self.lb, self.journal = scope, defn, runtime, lb, journal
        self.emit, self.held, self.probe = emit, held, probe
        self.verdicts: list[dict[str, Any]] = []
        self.error: BaseException | None = None  # what stopped a bring-back (re-raised by the caller)

    # -- the loop ------------------------------------------------------------------------------
    def drive(self, run: Run, state: m.State) -> m.State:
        state, actions = m.transition(state, m.Begin())
        while True:
            self.emit("phase", {"phase": state.phase, "step": state.step})
            event: m.Event | None = None
            for action in actions:
                try:
                    produced = self.act(run, state.phase, action)
                except (BakeryError, KeyboardInterrupt) as exc:
                    if state.done:
                        raise  # the unwind itself failed: say so, loudly
                    reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
                    self.emit("warn", {"text": f"stopping: {reason}"})
                    self.error = exc
                    event = m.Abort(reason)
                    break
                if produced is not None:
                    event = produced
            if state.done:
                return state
            if event is None:
                raise RolloutError(f"internal: no event after {actions!r} in {state.phase}")
            state, actions = m.transition(state, event)

    def act(self, run: Run, phase: str, action: m.Action) -> m.Event | None:
        """Journal, then perform. A lost lock is checked first and is no reason to unwind."""
        if self.held is not None:
            self.held.check()
        self.journal.step(run.rollout_id, phase, type(action).__name__, asdict(action))
        return self.perform(run, action)

    # -- the actions ---------------------------------------------------------------------------
    def perform(self, run: Run, action: m.Action) -> m.Event | None:
        if isinstance(action, m.StartGreen):
            return self._start_green(run)
        if isinstance(action, m.StartStopped):
            fleet = run.green
            assert fleet is not None
            self.emit("info", {"text": f"starting the stopped {fleet.colour} fleet ({fleet.version})"})
            run.started = time.monotonic()
            self.runtime.start_stopped(self.scope, fleet)
            return None
        if isinstance(action, m.WaitGreenHealthy):
            return self._wait_green(run, action.slots)
        if isinstance(action, m.ReplaceMembers):
            self._replace_members(run, action.slots)
            return None
        if isinstance(action, m.Rejoin):
            self._rejoin(run, action.slots)
            return None
        if isinstance(action, m.DropMembers):
            self._drop_members(run, action.slots)
            return None
        if isinstance(action, m.SetWeights):
            return self._set_weights(run, action)
        if isinstance(action, m.Analyse):
            return self._analyse(run, action)
        if isinstance(action, m.RestoreBlue):
            self._restore_blue(run)
            return None
        if isinstance(action, m.RemoveGreen):
            self._remove_green(run)
            return None
        if isinstance(action, m.DrainBlue):
            count = len(run.blue.members) if run.blue else self.defn.replicas
            traffic.drain(self.lb, run.blue_colour, count, self.defn.drain_timeout, self.emit)
            return m.Drained()
        if isinstance(action, m.CutDrain):
            count = len(run.blue.members) if run.blue else self.defn.replicas
            traffic.maintenance(self.lb, run.blue_colour, count)
            return None
        if isinstance(action, m.ReleaseGreen):
            traffic.maintenance(self.lb, run.colour, self._slot_count(run.colour))
            return None
        if isinstance(action, m.RetireOlder):
            keep = {run.rollout_id} | ({run.blue.rollout_id} if run.blue else set())
            self._retire_except(keep)
            return None
        if isinstance(action, m.Finish):
            self.journal.finish(run.rollout_id, action.status, action.reason)
            self.emit("done", {"status": action.status, "reason": action.reason})
            return None
        raise RolloutError(f"internal: unknown action {action!r}")

    def _start_green(self, run: Run) -> None:
        spec = run.spec
        assert spec is not None
        self.emit("info", {"text": f"starting {spec.replicas} {spec.colour} container(s) from "
                                   f"{spec.image_name} {spec.version} (fp-{spec.fingerprint[:12]})"})
        run.started = time.monotonic()
        run.green = self.runtime.start_fleet(self.scope, spec)

    def _wait_green(self, run: Run, slots: tuple[int, ...] = ()) -> m.Event:
        """The runtime's health first, then the balancer's own check at weight 0 (invariant 3).
        ``slots``: only those members are put in (a repair; the others serve on, untouched).
        ``start_timeout`` covers the whole start: the members' creation, their health and HAProxy's
        check (a run resumed after a crash, which cannot know when they started, gets it whole)."""
        budget = self.defn.health.start_timeout
        deadline = (run.started if run.started is not None else time.monotonic()) + budget

        def left() -> float:
            return max(MIN_WAIT, deadline - time.monotonic())

        try:
            green = self.runtime.wait_healthy(self.scope, run.fleet_id, left())
        except RolloutError as exc:
            return m.GreenUnhealthy(str(exc))
        run.green = green
        joining = replace(green, members=[mb for mb in green.members if not slots or mb.index in slots])
        self.emit("health", {"colour": green.colour, "members": [
            {"name": mb.name, "health": mb.health, "ip": mb.ip} for mb in joining.members]})
        try:
            traffic.enlist(self.lb, joining, self.defn.port)
            traffic.wait_up(self.lb, green.colour, [mb.index for mb in joining.members], left())
        except RolloutError as exc:
            return m.GreenUnhealthy(str(exc))
        self.emit("info", {"text": f"{green.colour}: all {len(joining.members)} healthy and UP in "
                                   "HAProxy (weight 0)"})
        return m.GreenHealthy()

    # -- repair: the live fleet's dead members replaced from the same image ------------------------
    def _replace_members(self, run: Run, slots: tuple[int, ...]) -> None:
        assert run.green is not None and run.spec is not None
        dead = [mb for mb in run.green.members if mb.index in slots]
        if dead:  # not serving (stopped, unhealthy or out of rotation): removed, never restarted
            self.runtime.remove_fleet(replace(run.green, members=dead))
        spec = run.spec
        self.emit("info", {"text": f"replacing {run.green.colour} member(s) {', '.join(map(str, slots))} of "
                                   f"{spec.image_name} {spec.version} (fp-{spec.fingerprint[:12]})"})
        run.started = time.monotonic()
        run.green = self.runtime.start_fleet(self.scope, replace(spec, slots=slots))

    def _rejoin(self, run: Run, slots: tuple[int, ...]) -> None:
        """The weight the rest of the live colour carries (100 when none is left to ask)."""
        stats = self.lb.stats()
        others = [s.weight for s in stats.values()
                  if s.colour == run.colour and s.index not in slots and s.up and s.weight > 0]
        weight = max(others, default=100)
        for index in slots:
            self.lb.send(cmd.set_weight(run.colour, index, weight))
        self.emit("weights", {"green_percent": 100, "colour": run.colour, "per_server": {run.colour: weight}})

    def _drop_members(self, run: Run, slots: tuple[int, ...]) -> None:
        traffic.maintenance_slots(self.lb, run.colour, slots)
        fleet = next((f for f in self.runtime.list_fleets(self.scope) if f.rollout_id == run.fleet_id), None)
        if fleet is not None:
            new = [mb for mb in fleet.members if mb.index in slots]
            if new:
                self.runtime.remove_fleet(replace(fleet, members=new))

    def _set_weights(self, run: Run, action: m.SetWeights) -> m.Event:
        ng = len(run.green.members) if run.green else self.defn.replicas
        nb = len(run.blue.members) if run.blue else 0
        weights = traffic.split(self.lb, run.colour, ng, nb, action.green, action.release_blue)
        self.emit("weights", {"green_percent": action.green, "colour": run.colour,
                              "per_server": {run.colour: weights["green"], run.blue_colour: weights["blue"]}})
        return m.WeightsSet(action.green)

    def _analyse(self, run: Run, action: m.Analyse) -> m.Event:
        assert run.green is not None
        result, record = analyse_step(self.lb, run.green, action.step, action.weight, action.pause, self.defn,
                                      self.emit, self.probe)
        self.verdicts.append(record)
        self.emit("verdict", record)
        return m.Verdict(result.outcome, result.summary())

    def _restore_blue(self, run: Run) -> None:
        if not run.blue:
            return
        traffic.set_colour_weight(self.lb, run.blue_colour, len(run.blue.members), 100)
        if run.green:
            traffic.set_colour_weight(self.lb, run.colour, len(run.green.members), 0)
        self.emit("weights", {"green_percent": 0, "colour": run.colour,
                              "per_server": {run.colour: 0, run.blue_colour: 100}})

    def _remove_green(self, run: Run) -> None:
        count = max(self.defn.replicas, len(run.green.members) if run.green else 0)
        traffic.drain(self.lb, run.colour, count, min(self.defn.drain_timeout, 10.0), self.emit)
        mine = next((f for f in self.runtime.list_fleets(self.scope) if f.rollout_id == run.rollout_id), None)
        if mine is None:
            return
        self.runtime.remove_fleet(mine)
        self.emit("info", {"text": f"removed the {run.colour} fleet ({mine.version})"})

    def _slot_count(self, colour: str) -> int:
        sizes = [len(f.members) for f in self.runtime.list_fleets(self.scope) if f.colour == colour]
        return max([self.defn.replicas, *sizes])

    def _retire_except(self, keep: set[str]) -> None:
        for f in self.runtime.list_fleets(self.scope):
            if f.rollout_id not in keep:
                self.runtime.remove_fleet(f)
                self.emit("info", {"text": f"removed older fleet {f.colour} {f.version} "
                                           f"(rollout {f.rollout_id})"})
