"""Reading what is: fleets from the runtime, weights from the balancer; which fleet is live.

``choose`` is pure (fleets and stats in, live and standby out) so every case of it is a unit
test; ``observe`` only gathers its inputs through the ports.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from bakery.balancer import commands as cmd
from bakery.engine.scope import Scope
from bakery.model.fleet import Fleet
from bakery.rollout.plan import Live
from bakery.rollout.ports import Balancer, Runtime


def colour_weight(stats: dict[str, cmd.ServerStat] | None, colour: str) -> int:
    """Weight a colour carries: servers in rotation (not in maintenance, not draining)."""
    if not stats:
        return 0
    return sum(s.weight for s in stats.values()
               if s.colour == colour and not s.in_maint and s.status != "DRAIN")


def _in_rotation(fleet: Fleet, stats: dict[str, cmd.ServerStat], port: int) -> bool:
    """Whether the balancer's slots of the fleet's colour point at one of its members."""
    addrs = {s.name: s.addr for s in stats.values() if not s.in_maint}
    return any(addrs.get(cmd.server_name(fleet.colour, mb.index)) == "{}:{}".format(*mb.address(port))
               for mb in fleet.members)


def choose(fleets: list[Fleet], stats: dict[str, cmd.ServerStat] | None, port: int,
           unfinished: Collection[str] = ()) -> tuple[Fleet | None, Fleet | None]:
    """(live, standby). Live: the fleet in rotation that carries the most weight; a fleet of a
    rollout still in progress (``unfinished`` ids: a canary, a half-started green) is live only
    when nothing else is. Standby, the rollback target: the newest fleet of the other colour
    that carries no weight and whose rollout is not unfinished. ``fleets`` oldest first."""
    if stats is None:
        return None, None
    in_rotation = [f for f in fleets if colour_weight(stats, f.colour) > 0 and _in_rotation(f, stats, port)]
    settled = [f for f in in_rotation if f.rollout_id not in unfinished] or in_rotation
    live = None
    if settled:
        # Most weight wins; on a tie (a 50% canary) the older fleet, the one that was live before.
        live = max(settled, key=lambda f: colour_weight(stats, f.colour))  # first max: the oldest
    standby = None
    if live is not None:
        for f in reversed(fleets):
            if (f.colour != live.colour and f.rollout_id != live.rollout_id
                    and f.rollout_id not in unfinished and colour_weight(stats, f.colour) == 0):
                standby = f
                break
    return live, standby


def degraded_slots(fleet: Fleet, stats: dict[str, cmd.ServerStat] | None, replicas: int,
                   port: int) -> tuple[int, ...]:
    """Slots of the live fleet that do not serve: a member missing, stopped or unhealthy, or one
    the balancer does not have UP at its address with weight. Empty: the fleet is whole."""
    if stats is None:
        return ()
    members = {mb.index: mb for mb in fleet.members}
    bad = []
    for index in range(1, max(replicas, len(members)) + 1):
        mb = members.get(index)
        slot = stats.get(cmd.server_name(fleet.colour, index))
        serving = (mb is not None and mb.status == "running" and mb.health in ("healthy", "none")
                   and slot is not None and slot.addr == "{}:{}".format(*mb.address(port))
                   and slot.status.startswith("UP") and slot.weight > 0)
        if not serving and index <= replicas:
            bad.append(index)
    return tuple(bad)


@dataclass
class Observed:
    fleets: list[Fleet]
    stats: dict[str, cmd.ServerStat] | None  # None: no load balancer answers
    live: Fleet | None = None
    standby: Fleet | None = None  # the rollback target

    def colour_weight(self, colour: str) -> int:
        return colour_weight(self.stats, colour)


def observe(scope: Scope, runtime: Runtime, balancer: Balancer, port: int,
            unfinished: Collection[str] = ()) -> Observed:
    found = runtime.list_fleets(scope)
    state = balancer.state()
    stats = balancer.stats() if state.running and balancer.answers() else None
    live, standby = choose(found, stats, port, unfinished)
    return Observed(found, stats, live, standby)


def as_live(fleet: Fleet | None) -> Live | None:
    return Live(fleet.version, fleet.fingerprint, fleet.colour, fleet.rollout_id) if fleet else None
