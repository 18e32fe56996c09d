"""The hosts of an environment: every host named by the ``targets:`` of its rollout definitions."""

from __future__ import annotations

from bakery.definitions.targets import HostSpec
from bakery.errors import UsageError
from bakery.project import Project


def env_hosts(project: Project, env: str) -> tuple[list[HostSpec], int]:
    """(hosts by name, the largest ``min_free_disk`` asked for). A name used for two different
    hosts in one environment is a mistake the user must settle."""
    paths = [p for p in project.rollout_paths() if p.parent.name == env]
    if not paths:
        raise UsageError(f"no rollout definitions under rollouts/{env}/")
    hosts: dict[str, HostSpec] = {}
    min_free = 0
    for path in paths:
        defn = project.load_rollout(env, path.stem)
        if defn.targets is None:
            continue
        min_free = max(min_free, defn.targets.min_free_disk_mib)
        for h in defn.targets.hosts:
            seen = hosts.setdefault(h.name, h)
            if (seen.address, seen.port, seen.user) != (h.address, h.port, h.user):
                raise UsageError(f"host {h.name} is {seen.ssh_target} in one definition of {env} and "
                                 f"{h.ssh_target} in {path.relative_to(project.root)}")
    if not hosts:
        raise UsageError(f"no service in {env} names hosts (a `targets:` key); it runs on the local engine")
    return sorted(hosts.values(), key=lambda h: h.name), min_free


def env_registries(project: Project, env: str) -> list[str]:
    """The registry addresses (``host:port``) the services of ``env`` pull from, sorted."""
    found = set()
    for path in project.rollout_paths():
        if path.parent.name == env:
            targets = project.load_rollout(env, path.stem).targets
            if targets is not None and targets.registry is not None:
                found.add(targets.registry.address)
    return sorted(found)
