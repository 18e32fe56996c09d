"""A fleet: the members (containers, tasks) one rollout started for one colour.

Runtimes read fleets back from what actually runs (engine labels, service specs), never from the
journal alone; the rollout core only sees these values.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Member:
    container_id: str
    name: str
    index: int  # the balancer slot it takes (1..N)
    status: str  # running, exited, created ...
    health: str  # healthy, unhealthy, starting, none
    ip: str  # an address the balancer reaches it at ("" when it has none)
    port: int = 0  # the port the balancer reaches it on (0: the definition's service port)

    def address(self, service_port: int) -> tuple[str, int]:
        return self.ip, self.port or service_port


@dataclass
class Fleet:
    rollout_id: str
    colour: str
    image_name: str
    version: str
    fingerprint: str
    created: str
    members: list[Member] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return bool(self.members) and all(m.status == "running" for m in self.members)

    @property
    def healthy(self) -> bool:
        return self.running and all(m.health in ("healthy", "none") for m in self.members)
