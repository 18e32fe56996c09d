"""Where the registry is configured: ``targets.registry.address`` in rollout definitions.

The registry is one per project (one container, one volume, one CA), on this machine; each
environment's hosts name the address they reach it at. ``merge`` (pure) gathers those: every
name goes into the certificate, the port must be one, and the Docker networks of test hosts
(``targets.network``) are joined so hosts that are containers here reach it by name.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from bakery.definitions.targets import RegistrySpec, Targets
from bakery.errors import UsageError
from bakery.project import Project


@dataclass(frozen=True)
class RegistrySettings:
    port: int
    names: tuple[str, ...]  # host names/IPs the hosts use; the certificate covers each
    networks: tuple[str, ...] = ()  # Docker networks of this machine to join (test hosts)

    @property
    def aliases(self) -> tuple[str, ...]:
        """The names that are DNS names: given as network aliases on the joined networks."""
        return tuple(n for n in self.names if not is_ip(n))


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def merge(found: list[tuple[str, Targets]]) -> RegistrySettings | None:
    """(where, targets) of every definition -> the one registry they describe; None when none
    names a registry. Two ports are a mistake the user must settle (one registry listens)."""
    specs = [(where, t.registry, t.network) for where, t in found if t.registry is not None]
    if not specs:
        return None
    ports = {spec.port: where for where, spec, _ in specs}
    if len(ports) > 1:
        raise UsageError("targets.registry.address names more than one port ("
                         + ", ".join(f"{p} in {w}" for p, w in sorted(ports.items()))
                         + "); bakery runs one registry per project, on one port")
    names = tuple(dict.fromkeys(spec.host for _, spec, _ in specs))
    networks = tuple(dict.fromkeys(net for _, _, net in specs if net))
    return RegistrySettings(specs[0][1].port, names, networks)


def project_settings(project: Project) -> RegistrySettings:
    """The registry the project's rollout definitions describe; UsageError when none does."""
    found: list[tuple[str, Targets]] = []
    for path in project.rollout_paths():
        defn = project.load_rollout(path.parent.name, path.stem)
        if defn.targets is not None:
            found.append((str(path.relative_to(project.root)), defn.targets))
    settings = merge(found)
    if settings is None:
        raise UsageError("no rollout definition names a registry: add `registry: {address: HOST:PORT}` "
                         "under `targets:` (where the hosts reach this machine)")
    return settings


def spec_settings(spec: RegistrySpec, network: str | None = None) -> RegistrySettings:
    return RegistrySettings(spec.port, (spec.host,), (network,) if network else ())


def state_key(state_dir: Path) -> str:
    """Short id of the state folder: the registry belongs to one ``.bakery/`` (its CA is there)."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
