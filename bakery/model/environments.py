"""Which environments are production: decided here only, for every command that asks."""

from __future__ import annotations

PRODUCTION_ENVS = frozenset({"production", "prod"})


def is_production(env: str) -> bool:
    """`production`, `prod` and `prod-*` (e.g. prod-eu): rollout, rollback and patch --rollout
    touch them only with --yes (or a confirmation at a terminal)."""
    name = env.lower()
    return name in PRODUCTION_ENVS or name.startswith("prod-")
