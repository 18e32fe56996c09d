"""One command's view of one env+service: the definition, its names, and the ports to act through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bakery.definitions.rollout import RolloutDefinition
from bakery.engine.scope import Scope
from bakery.rollout.canary import Probe
from bakery.rollout.driver import Driver
from bakery.rollout.observe import Observed, observe
from bakery.rollout.ports import Balancer, HeldLock, Journal, Runtime, Sink


@dataclass
class Context:
    defn: RolloutDefinition
    scope: Scope
    runtime: Runtime
    lb: Balancer
    journal: Journal
    emit: Sink
    probe: Probe | None = None

    def observe(self) -> Observed:
        unfinished = [row.id for row in self.journal.unfinished(self.scope.env, self.scope.service)]
        return observe(self.scope, self.runtime, self.lb, self.defn.port, unfinished)

    def driver(self, held: HeldLock | None = None, embedded: bool = False) -> Driver:
        """``embedded``: a run inside another command (recovery, reattach): its "done" is not the
        command's, so it is not reported as such."""
        emit = self.emit
        if embedded:
            def emit(kind: str, data: dict[str, Any]) -> None:
                if kind not in ("done", "phase"):
                    self.emit(kind, data)
        return Driver(self.scope, self.defn, self.runtime, self.lb, self.journal, emit, held, self.probe)
