"""The ``targets:`` key of a rollout definition: the hosts a service runs on, reached over SSH.

Without ``targets:`` a service runs on the local engine, as before. With it, every member runs
on one of the named hosts, the load balancer stays on this machine and points its slots at
host:port. The hosts are part of the rollout definition (not a file of their own) so one file
says everything about how a service runs in one environment; ``bakery hosts check ENV`` takes
the hosts of every service of the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakery.definitions.spec import ListOf, MapOf, Num, Obj, Str
from bakery.definitions.swarm import SWARM_SCHEMA, SwarmSpec, load_swarm
from bakery.definitions.yamlsource import Source, join

HOST_NAME = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
ADDRESS = r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})|\[?[0-9a-fA-F:]+\]?"
LABEL_KEY = r"[a-z][a-z0-9_.-]{0,62}"
REGISTRY_ADDRESS = r"([A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9a-fA-F:]+\]):[0-9]{1,5}"

TARGETS_SCHEMA = Obj(
    {
        "hosts": ListOf(
            Obj(
                {
                    "name": Str(pattern=HOST_NAME, pattern_hint="lowercase letters, digits and dashes",
                                description="how bakery names the host in tables and errors"),
                    "address": Str(pattern=ADDRESS, pattern_hint="an IP address or a DNS name",
                                   description="where SSH and the load balancer reach the host"),
                    "user": Str(pattern=r"[a-z_][a-z0-9_-]{0,31}", pattern_hint="a Unix user name",
                                description="the SSH user (default root); it must be allowed to "
                                "use Docker"),
                    "port": Num(minimum=1, maximum=65535, description="the SSH port (default 22)"),
                    "key": Str(min_length=1, description="the SSH private key file: absolute, ~/..., "
                               "or relative to the project (default: bakery's own key, "
                               ".bakery/hosts/id_ed25519, made by `bakery hosts key`)"),
                    "labels": MapOf(Str(max_length=63), key_pattern=LABEL_KEY,
                                    key_hint="a lowercase label name like zone",
                                    description="placement labels; replicas spread across the "
                                    "values of `spread` first"),
                },
                required=("name", "address"),
            ),
            min_items=1,
        ),
        "spread": Str(pattern=LABEL_KEY, pattern_hint="a label name like zone",
                      description="the host label replicas spread across first (default zone)"),
        "min_free_disk": Num(minimum=0, maximum=10_000_000,
                             description="MiB a host needs free for Docker (default 1024)"),
        "network": Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", pattern_hint="a Docker network name",
                       description="a Docker network of this machine the load balancer joins to reach "
                       "the hosts (only when the hosts are containers here, as in bakery's tests)"),
        "swarm": SWARM_SCHEMA,
        "registry": Obj(
            {
                "address": Str(pattern=REGISTRY_ADDRESS,
                               pattern_hint="HOST:PORT, e.g. deploy.example.com:5443",
                               description="where the hosts reach the registry bakery runs on this "
                               "machine (`bakery registry up`): this machine's name or IP as the "
                               "hosts see it, and the port it listens on; the TLS certificate "
                               "covers this name"),
            },
            required=("address",),
            description="Ship images through bakery's registry: pushed once, pulled by digest by "
            "every host (default: `docker save | docker load` over SSH)",
        ),
    },
    required=("hosts",),
    description="Run the service on these hosts over SSH instead of the local engine",
)


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    user: str = "root"
    port: int = 22
    key: Path | None = None  # None: bakery's own key
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=True)

    @property
    def ssh_target(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"


@dataclass(frozen=True)
class RegistrySpec:
    """The registry as the hosts reach it: ``host:port`` (also the name its certificate covers)."""

    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Targets:
    hosts: tuple[HostSpec, ...]
    spread: str = "zone"
    min_free_disk_mib: int = 1024
    network: str | None = None
    swarm: SwarmSpec | None = None  # the hosts form a Swarm (definitions/swarm.py)
    registry: RegistrySpec | None = None  # None: images go by save/load over SSH


def parse_registry_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) -> (host, port); ValueError when the port is out of range."""
    host, _, port = address.rpartition(":")
    number = int(port)
    if not 1 <= number <= 65535:
        raise ValueError(f"port {number} is not in 1..65535")
    return host.strip("[]"), number


def load_targets(data: dict[str, Any] | None, source: Source, project_root: Path | None) -> Targets | None:
    """Checked ``targets:`` data (already through TARGETS_SCHEMA) as values; names and addresses
    unique, key files present when the project is known."""
    if data is None:
        return None
    hosts = []
    names: dict[str, int] = {}
    addresses: dict[tuple[str, int], int] = {}
    for index, item in enumerate(data["hosts"]):
        at = join("targets.hosts", index)
        if item["name"] in names:
            raise source.error(join(at, "name"), f"duplicate host name {item['name']!r} "
                               f"(also targets.hosts[{names[item['name']]}])")
        names[item["name"]] = index
        where = (item["address"], item.get("port", 22))
        if where in addresses:
            raise source.error(join(at, "address"), f"{where[0]}:{where[1]} is already "
                               f"targets.hosts[{addresses[where]}]")
        addresses[where] = index
        key = None
        if "key" in item:
            key = Path(item["key"]).expanduser()
            if not key.is_absolute() and project_root is not None:
                key = project_root / key
            if project_root is not None and not key.is_file():
                raise source.error(join(at, "key"), f"no key file at {item['key']}")
        hosts.append(HostSpec(item["name"], item["address"], item.get("user", "root"),
                              item.get("port", 22), key, dict(item.get("labels", {}))))
    registry = None
    if "registry" in data:
        try:
            registry = RegistrySpec(*parse_registry_address(data["registry"]["address"]))
        except ValueError as exc:
            raise source.error("targets.registry.address", str(exc)) from None
    return Targets(tuple(hosts), data.get("spread", "zone"), data.get("min_free_disk", 1024),
                   data.get("network"), load_swarm(data.get("swarm"), source, names),
                   registry)
