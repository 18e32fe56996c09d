"""A real three-node Docker Swarm for bakery to deploy to: the SSH test hosts of
``hosts_support`` (Docker-in-Docker with sshd, images/host), with ``docker swarm init`` on the
first and ``docker swarm join`` on the other two.

The harness forms the cluster through the local engine (``exec`` in the host containers), the way
an operator would at the console; bakery itself reaches the manager only over SSH, through the
adapter. Everything is removed on exit: the host containers (and with them the cluster) and the
network, by ``ssh_hosts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

from bakery.project import Project
from tests.integration.hosts_support import SshHosts, ssh_hosts


@dataclass(frozen=True)
class SwarmCluster:
    hosts: SshHosts
    manager: str  # the manager's host name (h1)

    def targets_yaml(self, registry: str | None = None) -> str:
        """A ``targets:`` block naming the three nodes and the manager, for a rollout definition;
        with ``registry`` (HOST:PORT as the nodes reach it) images go through bakery's registry."""
        return self.hosts.targets_yaml(registry=registry) + f"  swarm:\n    manager: {self.manager}\n"

    def container(self, name: str) -> str:
        return next(h.container for h in self.hosts.hosts if h.name == name)


def _run(client: docker.DockerClient, container: str, argv: list[str]) -> str:
    result = client.containers.get(container).exec_run(argv)
    out = result.output.decode(errors="replace").strip()
    if result.exit_code != 0:
        raise RuntimeError(f"{container}: {' '.join(argv)} failed ({result.exit_code}): {out}")
    return out


def form_swarm(client: docker.DockerClient, hosts: SshHosts) -> None:
    """``swarm init`` on the first host, ``swarm join`` (as workers) on the others."""
    first, *rest = hosts.hosts
    _run(client, first.container, ["docker", "swarm", "init", "--advertise-addr", first.address])
    token = _run(client, first.container, ["docker", "swarm", "join-token", "-q", "worker"])
    for h in rest:
        _run(client, h.container, ["docker", "swarm", "join", "--advertise-addr", h.address, "--token", token,
                                   f"{first.address}:2377"])


@contextmanager
def swarm_cluster(client: docker.DockerClient, project: Project, workdir: Path) -> Iterator[SwarmCluster]:
    """Three hosts (zones a, b, c) forming one Swarm; all removed on exit."""
    with ssh_hosts(client, project, workdir, count=3) as hosts:
        form_swarm(client, hosts)
        yield SwarmCluster(hosts, hosts.hosts[0].name)
