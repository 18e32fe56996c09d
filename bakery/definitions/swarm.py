"""The ``swarm:`` key of ``targets:``: the hosts form a Docker Swarm, and bakery runs each colour
as a Swarm service through the manager (reached over SSH like any host) instead of placing
containers itself.

    targets:
      hosts: [...]          # every node, reached over SSH (images are shipped to each)
      spread: zone          # the node label replicas spread across (a Swarm placement preference)
      swarm:
        manager: h1         # the host (one of targets.hosts) whose engine is a Swarm manager

Kept in its own module so ``targets.py`` only hooks it in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from bakery.definitions.spec import Obj, Str
from bakery.definitions.yamlsource import Source

SWARM_SCHEMA = Obj(
    {
        "manager": Str(pattern=r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
                       pattern_hint="the name of one of targets.hosts",
                       description="the host whose engine is a Swarm manager; bakery creates and "
                       "removes services through it"),
    },
    required=("manager",),
    description="The hosts form a Docker Swarm: each colour runs as a Swarm service (tasks "
    "published in host mode, secrets as Swarm secrets under /run/secrets/)",
)


@dataclass(frozen=True)
class SwarmSpec:
    manager: str


def load_swarm(data: dict[str, Any] | None, source: Source, host_names: Collection[str]) -> SwarmSpec | None:
    """Checked ``targets.swarm`` data as a value; the manager must be one of the hosts."""
    if data is None:
        return None
    if data["manager"] not in host_names:
        raise source.error("targets.swarm.manager", f"{data['manager']!r} is not one of targets.hosts "
                           f"({', '.join(sorted(host_names))})")
    return SwarmSpec(data["manager"])
