"""Wiring for a Swarm: the load balancer (HAProxy on this machine, joining the nodes' network in
tests), a canary probe that follows tasks Swarm moves, re-enlisting moved tasks in the balancer,
and per-colour, per-node task counts for `bakery status`.

How bakery follows the scheduler: a fleet read back always lists the tasks that run now, so
whatever reads it sees where Swarm put them. A task that dies or is moved off a drained node
leaves its balancer slot pointing at an address nothing answers at: HAProxy's own health check
takes the slot out of rotation (and ``retries``/``redispatch`` resend a request it had in
flight), then the slot is pointed at the replacement by ``reenlist``: from the canary's probe as
soon as it meets such a slot, and by a repair run (``bakery rollout`` of the live version,
which sees the slot as degraded and re-enlists it through the state machine).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from bakery.balancer import commands as cmd
from bakery.balancer.haproxy import HAProxy
from bakery.definitions.rollout import RolloutDefinition
from bakery.definitions.targets import Targets
from bakery.engine.scope import Scope
from bakery.errors import BakeryError
from bakery.rollout.adapters import swarm_spec as sw
from bakery.rollout.adapters.ssh_wiring import HostsHAProxy
from bakery.rollout.adapters.swarm import SwarmRuntime
from bakery.rollout.canary import Probe, http_probe
from bakery.rollout.ports import Balancer, Sink, quiet

SETTLE = 20.0  # seconds the probe waits for Swarm to run a moved task again before it counts as failed


def reenlist(lb: Balancer, runtime: SwarmRuntime, scope: Scope, emit: Sink = quiet) -> list[str]:
    """Point every in-use slot whose task Swarm moved at the task's address now; weights and
    states are kept (HAProxy checks the new address before it gets traffic again)."""
    moved = sw.moved_slots(runtime.list_fleets(scope), lb.stats())
    for colour, index, ip, port in moved:
        lb.send(cmd.set_addr(colour, index, ip, port))
    if moved:
        emit("info", {"text": "re-enlisted tasks Swarm moved: " + ", ".join(
            f"{c}{i} -> {ip}:{port}" for c, i, ip, port in moved)})
    return [f"{c}{i}" for c, i, _, _ in moved]


class SwarmProbe:
    """The canary's probe, following the scheduler: when a member does not answer at the address
    the canary started with, and no task runs there any more (Swarm moved it: a drain, a death),
    the probe waits for the slot's replacement, re-enlists it in the balancer and probes it there.
    A slot whose replacement does not run within SETTLE counts as failed, so a crash-looping canary
    still fails; a task that runs at its address and does not answer fails at once."""

    def __init__(self, runtime: SwarmRuntime, send: Probe | None = None, settle: float = SETTLE,
                 poll: float = 0.5):
        self.runtime = runtime
        self.lb: Balancer | None = None
        self.scope: Scope | None = None
        self._send = send  # None: HTTP (one client for the run); unit tests pass their own
        self.settle, self.poll = settle, poll

    def balancer(self, scope: Scope, defn: RolloutDefinition, network: str | None) -> Balancer:
        """The balancer factory: the probe remembers the run's balancer and scope."""
        self.scope = scope
        self.lb = HostsHAProxy(scope, defn, network) if network else HAProxy(scope, defn)
        return self.lb

    def _read(self) -> dict[tuple[str, int], tuple[str, int]]:
        assert self.scope is not None
        running = {}
        for fleet in self.runtime.list_fleets(self.scope):
            for mb in fleet.members:
                if mb.status == "running" and mb.port:
                    running[(mb.ip, mb.port)] = (fleet.colour, mb.index)
        return running

    def _leaving(self) -> set[str]:
        """Addresses of nodes Swarm is taking tasks off (drained, paused, down): a task there may
        still be listed as running for a moment after it stopped answering."""
        return {n.address for n in self.runtime.nodes().values()
                if n.availability != "active" or n.state != "ready"}

    def __call__(self, host: str, port: int, timeout: float) -> tuple[bool, float]:
        if self._send is None:
            self._send = http_probe(httpx.Client())
        ok, ms = self._send(host, port, timeout)
        if ok or self.scope is None or self.lb is None:
            return ok, ms
        running, leaving = self._read(), self._leaving()
        slot = running.get((host, port)) or self.runtime.slot_at(self.scope, host, port)
        if slot is None or ((host, port) in running and host not in leaving):
            return ok, ms  # it runs there, on a node that keeps it, and does not answer: a failure
        deadline = time.monotonic() + self.settle
        while True:
            now = [where for where, s in running.items()
                   if s == slot and where != (host, port) and where[0] not in leaving]
            if now:
                ip, new_port = now[0]
                try:
                    reenlist(self.lb, self.runtime, self.scope, self.runtime.emit)
                except BakeryError:
                    pass  # the balancer's own check still keeps the old address out of rotation
                ok, more = self._send(ip, new_port, timeout)
                return ok, ms + more
            if time.monotonic() >= deadline:
                return False, ms
            time.sleep(self.poll)
            running, leaving = self._read(), self._leaving()


def swarm_ports_parts(targets: Targets, state_dir: Path,
                      emit: Sink = quiet) -> tuple[SwarmRuntime, Any, SwarmProbe]:
    """(runtime, balancer factory, canary probe) for a definition with ``targets: {swarm: ...}``;
    see service.ports_for."""
    runtime = SwarmRuntime(targets, state_dir, emit)
    probe = SwarmProbe(runtime)
    network = targets.network
    return runtime, lambda scope, defn: probe.balancer(scope, defn, network), probe


def swarm_tasks(runtime: object, scope: Scope) -> list[dict[str, Any]]:
    """Per colour: tasks desired vs running, in all and per node, for `bakery status`; [] for
    any other runtime. A hook for service.status: ``"swarm": swarm_tasks(ctx.runtime, ctx.scope)``."""
    if not isinstance(runtime, SwarmRuntime):
        return []
    services = runtime.services(scope)
    return sw.task_rows(services, runtime.tasks(services), runtime.nodes() if services else {})
