"""The hosts of an environment: every host named by the ``targets:`` of its rollout definitions."""

from __future__ import annotations

from dataclasses import dataclass

from bakery.definitions.targets import HostSpec
from bakery.errors import UsageError
from bakery.project import Project


@dataclass(frozen=True)
class EnvHosts:
    """What an environment's ``targets:`` ask of its hosts, read in one pass."""

    hosts: list[HostSpec]  # by name
    min_free_mib: int  # the largest ``min_free_disk`` asked for
    registries: list[str]  # the registry addresses (``host:port``) its services pull from


def env_hosts(project: Project, env: str) -> EnvHosts:
    """The hosts of ``env``. A name used for two different hosts in one environment is a
    mistake the user must settle."""
    paths = [p for p in project.rollout_paths() if p.parent.name == env]
    if not paths:
        raise UsageError(f"no rollout definitions under rollouts/{env}/")
    hosts: dict[str, HostSpec] = {}
    registries: set[str] = set()
    min_free = 0
    for path in paths:
        defn = project.load_rollout(env, path.stem)
        if defn.targets is None:
            continue
        min_free = max(min_free, defn.targets.min_free_disk_mib)
        if defn.targets.registry is not None:
            registries.add(defn.targets.registry.address)
        for h in defn.targets.hosts:
            seen = hosts.setdefault(h.name, h)
            if (seen.address, seen.port, seen.user) != (h.address, h.port, h.user):
                raise UsageError(f"host {h.name} is {seen.ssh_target} in one definition of {env} and "
                                 f"{h.ssh_target} in {path.relative_to(project.root)}")
    if not hosts:
        raise UsageError(f"no service in {env} names hosts (a `targets:` key); it runs on the local engine")
    return EnvHosts(sorted(hosts.values(), key=lambda h: h.name), min_free, sorted(registries))
