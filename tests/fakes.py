"""Fakes of the rollout ports, for unit tests of the real core (service, driver, machine).

Like httpx's MockTransport: small, honest models of the real thing. ``FakeBalancer`` parses the
very command strings ``balancer/commands.py`` builds and keeps per-slot address, weight, admin
state and a health check that follows the runtime's members; ``FakeRuntime`` keeps fleets of
members with addresses and health, and logs every call so tests can prove a fleet was not
touched. Integration tests use the real engine and HAProxy instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from bakery.balancer import commands as cmd
from bakery.engine.scope import Scope
from bakery.errors import BalancerError, LockError, RolloutError
from bakery.model.fleet import Fleet, Member
from bakery.model.traffic import BalancerState
from bakery.rollout.ports import FleetSpec


class Crash(BaseException):
    """A kill -9 stand-in: not a BakeryError nor a KeyboardInterrupt, so nothing unwinds it."""


class FakeRuntime:
    def __init__(self, service_port: int = 8080) -> None:
        self.service_port = service_port
        self.fleets: dict[str, Fleet] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, rollout id)
        self.unhealthy_images: set[str] = set()  # members from these never become healthy
        self.bad_images: set[str] = set()  # members from these answer probes with errors
        self.missing_images: set[str] = set()
        self._next_ip = 10
        self._images: dict[str, str] = {}  # rollout id -> image name

    def list_fleets(self, scope: Scope) -> list[Fleet]:
        return [replace(f, members=[replace(mb) for mb in f.members])
                for f in sorted(self.fleets.values(), key=lambda f: f.created)]

    def start_fleet(self, scope: Scope, spec: FleetSpec) -> Fleet:
        self.calls.append(("start_fleet", spec.rollout_id))
        health = "unhealthy" if spec.image_id in self.unhealthy_images else "healthy"
        fleet = self.fleets.setdefault(spec.rollout_id, Fleet(
            spec.rollout_id, spec.colour, spec.image_name, spec.version, spec.fingerprint,
            f"{len(self.fleets):04d}", []))
        for i in spec.indexes:
            self._next_ip += 1
            name, ip = f"{spec.colour}{i}-{spec.rollout_id}", f"10.0.0.{self._next_ip}"
            fleet.members.append(Member(f"c{self._next_ip}", name, i, "running", health, ip))
        fleet.members.sort(key=lambda mb: mb.index)
        self._images[spec.rollout_id] = spec.image_id
        return self.list_fleets(scope)[[f.rollout_id for f in self.list_fleets(scope)].index(spec.rollout_id)]

    def wait_healthy(self, scope: Scope, rollout_id: str, timeout: float) -> Fleet:
        fleet = self.fleets.get(rollout_id)
        if fleet is None:
            raise RolloutError(f"no containers found for rollout {rollout_id}")
        bad = [mb for mb in fleet.members if mb.status != "running" or mb.health != "healthy"]
        if bad:
            raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) is not healthy: "
                               + ", ".join(mb.name for mb in bad))
        return replace(fleet, members=[replace(mb) for mb in fleet.members])

    def start_stopped(self, scope: Scope, fleet: Fleet) -> None:
        self.calls.append(("start_stopped", fleet.rollout_id))
        for mb in self.fleets[fleet.rollout_id].members:
            mb.status = "running"

    def stop_fleet(self, fleet: Fleet) -> None:
        self.calls.append(("stop_fleet", fleet.rollout_id))
        for mb in self.fleets[fleet.rollout_id].members:
            mb.status = "exited"

    def remove_fleet(self, fleet: Fleet) -> None:
        """Removes the members given (all of a fleet, or a repair's dead ones)."""
        self.calls.append(("remove_fleet", fleet.rollout_id))
        mine = self.fleets.get(fleet.rollout_id)
        if mine is None:
            return
        gone = {mb.container_id for mb in fleet.members}
        mine.members = [mb for mb in mine.members if mb.container_id not in gone]
        if not mine.members:
            del self.fleets[fleet.rollout_id]

    def kill(self, rollout_id: str, index: int) -> None:
        """A member dies (OOM, crash, `docker kill`): what a repair must notice and replace."""
        for mb in self.fleets[rollout_id].members:
            if mb.index == index:
                mb.status, mb.health = "exited", "unhealthy"

    def image_present(self, ref: str) -> bool:
        return ref not in self.missing_images

    # -- what tests read -------------------------------------------------------------------------
    def member_at(self, addr: str) -> tuple[Fleet, Member] | None:
        for fleet in self.fleets.values():
            for mb in fleet.members:
                if "{}:{}".format(*mb.address(self.service_port)) == addr:
                    return fleet, mb
        return None

    def touched(self, rollout_id: str) -> list[str]:
        return [op for op, rid in self.calls if rid == rollout_id]

    def probe(self, host: str, port: int, timeout: float) -> tuple[bool, float]:
        found = self.member_at(f"{host}:{port}")
        if found is None or found[1].status != "running":
            return False, 1.0
        return self._images.get(found[0].rollout_id) not in self.bad_images, 1.0


@dataclass
class Slot:
    addr: str = ""
    weight: int = 1
    state: str = "maint"  # ready | drain | maint (server-template slots start in maintenance)


_SET_WEIGHT = re.compile(r"set weight \w+/(\w+) (\d+)$")
_SET_ADDR = re.compile(r"set server \w+/(\w+) addr (\S+) port (\d+)$")
_SET_STATE = re.compile(r"set server \w+/(\w+) state (\w+)$")


@dataclass
class FakeBalancer:
    """One env+service's balancer; every command is checked against the invariant that traffic
    always has somewhere to go once something served (``outages`` counts the moments it did not)."""

    runtime: FakeRuntime
    slots: dict[str, Slot] = field(default_factory=dict)
    present: bool = False
    running: bool = False
    commands: list[str] = field(default_factory=list)
    fail_when: Callable[[str], bool] | None = None
    outages: list[str] = field(default_factory=list)
    served: bool = False

    def ensure(self, image_id: str, serving: bool = False,
               on_event: Callable[[str, str], None] | None = None) -> None:
        if not self.running:
            self.present = self.running = True

    def state(self) -> BalancerState:
        return BalancerState(self.present, self.running, "sha256:lb" if self.present else None)

    def answers(self) -> bool:
        return self.running

    def restart(self) -> None:
        """What a restarted HAProxy container looks like: every slot back to maintenance."""
        self.slots.clear()

    def send(self, command: str, timeout: float = 5.0) -> str:
        if not self.running:
            raise BalancerError("cannot reach HAProxy's admin socket (fake: not running)")
        if self.fail_when is not None and self.fail_when(command):
            raise BalancerError(f"fake failure on {command!r}")
        self.commands.append(command)
        if m := _SET_WEIGHT.match(command):
            self.slots.setdefault(m.group(1), Slot()).weight = int(m.group(2))
        elif m := _SET_ADDR.match(command):
            self.slots.setdefault(m.group(1), Slot()).addr = f"{m.group(2)}:{m.group(3)}"
        elif m := _SET_STATE.match(command):
            self.slots.setdefault(m.group(1), Slot()).state = m.group(2)
        else:
            raise BalancerError(f"fake balancer: unknown command {command!r}")
        carrying = self.carrying()
        if carrying:
            self.served = True
        elif self.served:
            self.outages.append(command)
        return ""

    def _up(self, slot: Slot) -> bool:
        found = self.runtime.member_at(slot.addr) if slot.addr else None
        return found is not None and found[1].status == "running" and found[1].health == "healthy"

    def carrying(self) -> list[str]:
        """Servers that would get a new request now: ready, UP and with weight."""
        return [n for n, s in self.slots.items() if s.state == "ready" and s.weight > 0 and self._up(s)]

    def stats(self) -> dict[str, cmd.ServerStat]:
        if not self.running:
            raise BalancerError("fake balancer not running")
        out = {}
        for name, s in sorted(self.slots.items()):
            if s.state == "maint":
                status = "MAINT"
            elif s.state == "drain":
                status = "DRAIN"
            else:
                status = "UP" if self._up(s) else "DOWN"
            out[name] = cmd.ServerStat(cmd.BACKEND, name, status, s.weight, 0, 0, 0, 0, 0, 1, "L7OK", s.addr)
        return out

    def published(self) -> tuple[str, int] | None:
        return ("127.0.0.1", 8080) if self.present else None

    def weight_of(self, colour: str) -> int:
        return sum(s.weight for n, s in self.slots.items()
                   if n.startswith(colour) and s.state == "ready")


class FakeLock:
    """``locks.Held`` without a store: ``lose_after`` checks, it says it was taken over."""

    def __init__(self, lose_after: int | None = None):
        self.lose_after = lose_after
        self.checks = 0
        self.held_by: list[str] = []

    @contextmanager
    def __call__(self, key: str, purpose: str, on_takeover: Callable[[str], None]) -> Iterator[FakeLock]:
        if self.held_by:
            raise LockError(f"{key} is held by {self.held_by[-1]}")
        self.held_by.append(purpose)
        try:
            yield self
        finally:
            self.held_by.pop()

    def check(self) -> None:
        self.checks += 1
        if self.lose_after is not None and self.checks > self.lose_after:
            raise LockError("the lock was taken over by another run; stopping before the next step")


class CrashingJournal:
    """Wraps a journal: the run dies right after journaling step number ``at`` (1-based)."""

    def __init__(self, inner: Any, at: int):
        self.inner, self.at, self.count = inner, at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def step(self, rollout_id: str, phase: str, action: str, detail: dict[str, Any]) -> None:
        self.inner.step(rollout_id, phase, action, detail)
        self.count += 1
        if self.count == self.at:
            raise Crash(f"killed after journaling step {self.at} ({phase} {action})")
