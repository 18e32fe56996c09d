"""Moving traffic through the ``Balancer`` port: enlist a fleet, wait for the balancer's own
health check, set weights, drain. Shared by every path of the state machine.

Callers reach these through the module (``traffic.drain(...)``), so tests that stop a run at an
exact step can replace one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from bakery.balancer import commands as cmd
from bakery.errors import RolloutError
from bakery.model.fleet import Fleet
from bakery.rollout.ports import Balancer, Sink

T = TypeVar("T")


def until(read: Callable[[], T], pending: Callable[[T], bool], timeout: float, poll: float) -> T:
    """``read()`` again every ``poll`` seconds while ``pending`` says so, for at most ``timeout``;
    the last value read either way (the caller decides what a timeout means)."""
    return Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(poll), retry=retry_if_result(pending),
                    retry_error_callback=lambda state: state.outcome.result())(read)


def enlist(lb: Balancer, fleet: Fleet, port: int) -> None:
    """Point the colour's slots at the fleet, at weight 0, and let the balancer start checking them."""
    for mb in fleet.members:
        if not mb.ip:
            raise RolloutError(f"{mb.name} has no address the load balancer can reach")
        ip, member_port = mb.address(port)
        lb.send(cmd.set_weight(fleet.colour, mb.index, 0))
        lb.send(cmd.set_addr(fleet.colour, mb.index, ip, member_port))
        lb.send(cmd.set_state(fleet.colour, mb.index, "ready"))


def wait_up(lb: Balancer, colour: str, indexes: Iterable[int], timeout: float, poll: float = 0.2) -> None:
    """Until the balancer's own health check says UP for each of the colour's slots ``indexes``."""
    names = [cmd.server_name(colour, i) for i in indexes]

    def pending(stats: dict[str, cmd.ServerStat]) -> bool:
        return not all(n in stats and stats[n].status.startswith("UP") for n in names)

    stats = until(lb.stats, pending, timeout, poll)
    if pending(stats):
        detail = ", ".join(f"{n}: {stats[n].status} ({stats[n].check_status})" for n in names if n in stats)
        raise RolloutError(f"HAProxy's health check never passed for {colour} within {timeout:g}s: "
                           f"{detail}")


def set_colour_weight(lb: Balancer, colour: str, count: int, weight: int) -> None:
    for i in range(1, count + 1):
        lb.send(cmd.set_weight(colour, i, weight))


def split(lb: Balancer, green: str, green_count: int, blue_count: int, green_percent: int,
          release_blue: bool = True) -> dict[str, int]:
    """Per-server weights for ``green_percent`` of traffic on green; the side that gains is raised
    first, so the total never drops to zero. ``release_blue=False`` leaves blue's weight as it is
    at 100% (a rollback keeps the fleet it leaves at full weight until its drain)."""
    if blue_count == 0 or green_percent == 100:
        weights = {"green": 100, "blue": 0}
    else:
        weights = cmd.split_weights(green_percent, green_count, blue_count)
    order = [("green", green_count), ("blue", blue_count)] if green_percent >= 50 else \
        [("blue", blue_count), ("green", green_count)]
    for side, count in order:
        if side == "blue" and green_percent == 100 and not release_blue:
            continue
        set_colour_weight(lb, green if side == "green" else cmd.other(green), count, weights[side])
    return weights


def drain(lb: Balancer, colour: str, count: int, timeout: float, emit: Sink, poll: float = 0.1) -> None:
    """Stop new requests to a colour, wait for its sessions to end (or the timeout), then maintenance."""
    if count <= 0:
        return
    drain_slots(lb, colour, range(1, count + 1), timeout, emit, poll, what=colour)


def drain_slots(lb: Balancer, colour: str, indexes: Iterable[int], timeout: float, emit: Sink,
                poll: float = 0.1, what: str | None = None) -> None:
    """Stop new requests to these members of a colour, wait for their sessions to end (or the
    timeout), then maintenance: the rest of the colour serves on. ``what`` names them in the
    event (default: the colour and the member numbers)."""
    indexes = tuple(indexes)
    for i in indexes:
        lb.send(cmd.set_weight(colour, i, 0))
        lb.send(cmd.set_state(colour, i, "drain"))
    names = [cmd.server_name(colour, i) for i in indexes]

    def open_sessions() -> int:
        stats = lb.stats()
        return sum(stats[n].scur for n in names if n in stats)

    sessions = until(open_sessions, lambda n: n > 0, timeout, poll)
    what = what or f"{colour} member(s) {', '.join(map(str, indexes))}"
    emit("info", {"text": f"drained {what}" + (f" ({sessions} session(s) left at the timeout)"
                                                if sessions else "")})
    maintenance_slots(lb, colour, indexes)


def maintenance(lb: Balancer, colour: str, count: int) -> None:
    """Out of rotation at once: weight 0 and maintenance (open sessions finish on their own)."""
    maintenance_slots(lb, colour, range(1, count + 1))


def maintenance_slots(lb: Balancer, colour: str, indexes: Iterable[int]) -> None:
    for i in indexes:
        lb.send(cmd.set_weight(colour, i, 0))
        lb.send(cmd.set_state(colour, i, "maint"))


def server_rows(stats: dict[str, cmd.ServerStat]) -> list[dict[str, Any]]:
    return [{"server": s.name, "status": s.status, "weight": s.weight, "sessions": s.scur,
             "requests": s.responses, "5xx": s.hrsp_5xx, "addr": s.addr}
            for s in stats.values() if not (s.in_maint and s.addr.startswith("127.0.0.1"))
            and not (s.in_maint and s.stot == 0 and not s.addr)]
