"""What the rollout core reads of a load balancer besides its per-server stats."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BalancerState:
    present: bool
    running: bool
    image_id: str | None = None
