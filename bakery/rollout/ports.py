"""What a rollout needs from the world, as small protocols (docs/architecture.md, "Ports").

The rollout core (observe, machine, driver, service) speaks only these; adapters implement
them: the local Docker engine (``adapters/local.py``), HAProxy through its runtime API
(``balancer/haproxy.py``), the state store (``adapters/store.py``). Unit tests drive the same
core through fakes (``tests/fakes.py``), the way httpx ships a mock transport.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from bakery.balancer.commands import ServerStat
from bakery.engine import labels
from bakery.engine.scope import Scope
from bakery.model.events import Sink, quiet
from bakery.model.fleet import Fleet
from bakery.model.records import RolloutRow
from bakery.model.traffic import BalancerState

__all__ = ["Sink", "quiet"]  # the event shape, re-exported for the rollout core

@dataclass(frozen=True)
class FleetSpec:
    """Everything a runtime needs to start one colour's members. Secret values travel here and
    nowhere else (never into labels, logs or the journal)."""

    image_id: str
    image_name: str
    version: str
    fingerprint: str
    colour: str
    rollout_id: str
    replicas: int
    port: int
    health_interval: float
    health_timeout: float
    health_retries: int
    environment: dict[str, str] = field(default_factory=dict, repr=False)
    slots: tuple[int, ...] = ()  # which members to start (a repair); empty: 1..replicas
    health_path: str = ""  # HTTP path a runtime may probe while members start ("" : none)
    parallelism: int = 8  # members started and health-checked at once
    secret_delivery: str = "file"  # "file": /run/secrets/<NAME> in each member; "env": env vars

    @property
    def indexes(self) -> tuple[int, ...]:
        return self.slots or tuple(range(1, self.replicas + 1))

    def labels(self, scope: Scope) -> dict[str, str]:
        """What every member of this fleet carries on any runtime (whose it is, colour, image,
        rollout): fleets are read back from these. Runtimes add their own (slot, host...)."""
        return {**scope.labels("service"), labels.COLOUR: self.colour, labels.IMAGE_NAME: self.image_name,
                labels.IMAGE_VERSION: self.version, labels.FINGERPRINT: self.fingerprint,
                labels.ROLLOUT_ID: self.rollout_id}


class Runtime(Protocol):
    """Where fleets run: the local engine today; hosts over SSH and Swarm plug in here."""

    def list_fleets(self, scope: Scope) -> list[Fleet]:
        """Every fleet of this env+service, oldest first, read from what runs."""

    def start_fleet(self, scope: Scope, spec: FleetSpec) -> Fleet:
        """Create and start the members ``spec.indexes`` (their balancer slots) of the fleet
        ``spec.rollout_id``; do not wait for health. Returns the whole fleet as it now is."""

    def wait_healthy(self, scope: Scope, rollout_id: str, timeout: float) -> Fleet:
        """Until every member reports healthy; RolloutError naming the bad members otherwise."""

    def start_stopped(self, scope: Scope, fleet: Fleet) -> None:
        """Start the members of a stopped fleet (one not serving), e.g. before a rollback."""

    def stop_fleet(self, fleet: Fleet) -> None:
        """Stop a fleet that serves nothing, keeping it for a later start."""

    def remove_fleet(self, fleet: Fleet) -> None:
        """Remove a fleet whole; members already gone are not an error."""

    def image_present(self, ref: str) -> bool:
        """Whether the runtime can start members from ``ref`` (a tag or an id)."""


class Balancer(Protocol):
    """The traffic switch of one env+service. Commands are the pure strings of
    ``balancer/commands.py``; the balancer only carries them."""

    def ensure(self, image_id: str, serving: bool = False,
               on_event: Callable[[str, str], None] | None = None) -> None:
        """A running balancer that answers; a no-op when one does."""

    def state(self) -> BalancerState:
        ...

    def answers(self) -> bool:
        ...

    def stats(self) -> dict[str, ServerStat]:
        ...

    def send(self, command: str, timeout: float = 5.0) -> str:
        ...

    def published(self) -> tuple[str, int] | None:
        """Where it really listens, (host, port), or None when it is not there."""


class Journal(Protocol):
    """The rollout journal over ONE store connection for the whole run."""

    def begin(self, row: RolloutRow) -> None: ...

    def step(self, rollout_id: str, phase: str, action: str, detail: dict[str, Any]) -> None:
        """Recorded BEFORE the action runs (invariant 4)."""

    def finish(self, rollout_id: str, status: str, reason: str = "") -> None: ...

    def unfinished(self, env: str, service: str) -> list[RolloutRow]: ...

    def history(self, env: str, service: str, limit: int = 50) -> list[RolloutRow]: ...


class HeldLock(Protocol):
    def check(self) -> None:
        """Raise LockError when the lock was taken over (a frozen holder must stop)."""


LockFactory = Callable[[str, str, Callable[[str], None]], AbstractContextManager[HeldLock]]
"""``lock(key, purpose, on_takeover)``: a context manager holding the lock for the run."""
