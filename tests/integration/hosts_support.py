"""Three real machines for bakery to deploy to: Docker-in-Docker hosts with sshd (images/host).

They sit on a network of their own, are reached only over SSH with a key made for the run, and
are removed afterwards. The `docker run` flags are the ones measured to work here
(/work/shared/FACTS.md): `--privileged` fails on these machines ("unable to apply caps").
"""

from __future__ import annotations

import base64
import io
import os
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import paramiko

from bakery.build.docker_builder import build
from bakery.cli.registry import registry_up
from bakery.hosts.keys import make_key, public_line
from bakery.hosts.trust import fingerprint
from bakery.project import Project
from bakery.registry import server
from bakery.registry.server import RegistryStatus
from tests.integration.rollout_support import mark_verified

HOST_RUN_FLAGS = {
    "cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "volumes": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
    "tmpfs": {"/run": "", "/var/lib/docker": "exec"},
}
HOST_LABEL = "io.bakery.test-host"
# overlay2 on the tmpfs /var/lib/docker works on these machines and loads an image several
# times faster than vfs (which copies the whole tree for every layer); BAKERY_TEST_HOST_STORAGE=vfs
# falls back to the driver FACTS.md measured.
STORAGE = os.environ.get("BAKERY_TEST_HOST_STORAGE", "overlay2")


@dataclass(frozen=True)
class SshHost:
    name: str
    address: str
    container: str  # the DinD container's name on the local engine
    zone: str


@dataclass(frozen=True)
class SshHosts:
    network: str
    hosts: tuple[SshHost, ...]
    key: Path  # the run's private key
    state_dir: Path  # where the key lives (a throwaway .bakery/)

    def targets_yaml(self, names: tuple[str, ...] | None = None, registry: str | None = None) -> str:
        """A ``targets:`` block naming these hosts, for a rollout definition; with ``registry``
        (HOST:PORT as the hosts reach it) images go through bakery's registry."""
        lines = ["targets:", f"  network: {self.network}", "  min_free_disk: 100"]
        if registry:
            lines += ["  registry:", f"    address: {registry}"]
        lines += ["  hosts:"]
        for h in self.hosts:
            if names is None or h.name in names:
                lines += [f"    - name: {h.name}", f"      address: {h.address}", f"      key: {self.key}",
                          f"      labels: {{zone: {h.zone}}}"]
        return "\n".join(lines) + "\n"


def host_image(project: Project) -> str:
    """images/host built by bakery itself (a no-op when the engine has it)."""
    return build(project, project.load_image("host")).record.image_id


def start_host(client: docker.DockerClient, image: str, network: str, name: str, pubkey: str) -> None:
    client.containers.run(image, name=name, detach=True, network=network, hostname=name.rsplit("-", 1)[-1],
                          environment={"HOST_AUTHORIZED_KEY": pubkey, "HOST_STORAGE_DRIVER": STORAGE},
                          labels={HOST_LABEL: network},
                          **HOST_RUN_FLAGS)


def wait_ready(client: docker.DockerClient, names: list[str], timeout: float = 120) -> None:
    """Until sshd is healthy and the engine inside answers (asked through the local engine: this
    is the harness checking its machines, not bakery reaching them)."""
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending:
        for name in list(pending):
            c = client.containers.get(name)
            state = c.attrs["State"]
            if state["Status"] != "running":
                raise RuntimeError(f"test host {name} stopped: {c.logs(tail=20).decode(errors='replace')}")
            if (state.get("Health") or {}).get("Status") == "healthy" and \
                    c.exec_run(["docker", "version"]).exit_code == 0:
                pending.remove(name)
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"test hosts not ready within {timeout}s: {pending}")
        time.sleep(0.5)


def host_key_fingerprint(client: docker.DockerClient, container: str) -> str:
    """The host's ed25519 key fingerprint read out of band (as an operator reads it from the
    console), to compare with what bakery recorded on first contact."""
    chunks, _ = client.containers.get(container).get_archive("/etc/ssh/ssh_host_ed25519_key.pub")
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.getmembers()[0]
        line = tar.extractfile(member).read()  # type: ignore[union-attr]
    return fingerprint(paramiko.Ed25519Key(data=base64.b64decode(line.split()[1])))


def address_of(client: docker.DockerClient, name: str, network: str) -> str:
    c = client.containers.get(name)
    return c.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


REGISTRY_NAME = "registry.bakery.test"  # the registry's alias on the hosts' network


@contextmanager
def running_registry(project: Project) -> Iterator[RegistryStatus]:
    """bakery's registry for ``project``, started by bakery's own `registry up` code (its image
    marked verified: `bakery verify registry` runs in tests/integration/test_registry.py), and
    removed with its volume afterwards."""
    mark_verified(project, build(project, project.load_image("registry")).record)
    try:
        yield registry_up(project)
    finally:
        server.down(project.state_dir, purge=True)


@contextmanager
def ssh_hosts(client: docker.DockerClient, project: Project, workdir: Path,
               count: int = 3) -> Iterator[SshHosts]:
    """``count`` hosts (zones a, b, c...) on a new network; all removed on exit."""
    run = uuid.uuid4().hex[:8]
    network = f"bakery-test-hosts-{run}"
    state_dir = workdir / "keys"
    key, _ = make_key(state_dir, comment=f"bakery-test-{run}")
    image = host_image(project)
    names = [f"bakery-test-{run}-h{i}" for i in range(1, count + 1)]
    client.networks.create(network, driver="bridge", labels={HOST_LABEL: network})
    try:
        for name in names:
            start_host(client, image, network, name, public_line(state_dir))
        wait_ready(client, names)
        hosts = tuple(SshHost(f"h{i}", address_of(client, name, network), name, "abc"[(i - 1) % 3])
                      for i, name in enumerate(names, start=1))
        yield SshHosts(network, hosts, key, state_dir)
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{HOST_LABEL}={network}"}):
            c.remove(force=True, v=True)
        net = client.networks.get(network)
        net.reload()
        for c in net.containers:  # e.g. a load balancer a test connected to it
            net.disconnect(c, force=True)
        net.remove()

