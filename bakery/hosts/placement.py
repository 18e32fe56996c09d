"""Where each replica of a fleet runs. Pure: hosts and a count in, one host per slot out.

Replicas spread across the values of the spread label (zone) first, then across the hosts of
each value, round robin: no host gets a second replica of a colour while another host has none,
and no zone gets a second while another zone has none.
"""

from __future__ import annotations

from bakery.definitions.targets import HostSpec
from bakery.errors import RolloutError


def spread_order(hosts: list[HostSpec] | tuple[HostSpec, ...], label: str = "zone") -> list[HostSpec]:
    """Hosts in the order replicas take them: one per label value in turn, by name within."""
    groups: dict[str, list[HostSpec]] = {}
    for h in sorted(hosts, key=lambda h: h.name):
        groups.setdefault(h.labels.get(label, ""), []).append(h)
    lanes = [groups[k] for k in sorted(groups)]
    order: list[HostSpec] = []
    depth = max((len(lane) for lane in lanes), default=0)
    for i in range(depth):
        order += [lane[i] for lane in lanes if i < len(lane)]
    return order


def place(hosts: list[HostSpec] | tuple[HostSpec, ...], replicas: int, label: str = "zone",
          down: frozenset[str] = frozenset()) -> dict[int, HostSpec]:
    """Slot (1..replicas) -> host, over the hosts not ``down``; RolloutError when none is left.

    A host that is down is left out rather than waited for: the fleet lands on the hosts that
    answer, still spread, and the caller says which hosts were left out.
    """
    usable = [h for h in hosts if h.name not in down]
    if not usable:
        names = ", ".join(sorted(down)) or "none"
        raise RolloutError(f"cannot place {replicas} replica(s): no host answers (down: {names})")
    order = spread_order(usable, label)
    return {slot: order[(slot - 1) % len(order)] for slot in range(1, replicas + 1)}
