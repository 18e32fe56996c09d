"""The Docker engine of one host, through the docker SDK over SSH, with bakery's own trust.

Why the SDK's own ``ssh://`` transport (paramiko, ``docker system dial-stdio`` on the host)
rather than fabric forwarding the engine socket: it needs no listener on this machine, no
thread pumping bytes, and nothing on the host but sshd and the docker CLI. Its one flaw is that
it builds its paramiko client from ``~/.ssh`` only; ``BakeryAdapter`` replaces exactly that step
with a client that knows bakery's key and known_hosts (connect.py), and refuses unknown hosts.
"""

from __future__ import annotations

from pathlib import Path

import docker
import docker.errors
from docker.transport.sshconn import SSHHTTPAdapter

from bakery.definitions.targets import HostSpec
from bakery.hosts.connect import connect_kwargs, new_client, open_client, policy_for

# The engine API version bakery speaks to hosts: Debian 12's docker.io (20.10) serves 1.41, and
# newer engines serve older versions too. Fixed, so building a client needs no round trip.
API_VERSION = "1.41"


class BakeryAdapter(SSHHTTPAdapter):
    """The SDK's SSH adapter with its paramiko client made by bakery (key, known_hosts)."""

    def __init__(self, host: HostSpec, state_dir: Path, timeout: float, max_pool_size: int = 4):
        self._host = host
        self._state_dir = state_dir
        super().__init__(f"ssh://{host.user}@{host.address}:{host.port}", timeout=timeout,
                         max_pool_size=max_pool_size)

    def _create_paramiko_client(self, base_url: str) -> None:
        self.ssh_client = new_client(self._state_dir, policy_for(self._state_dir, first_contact=False))
        self.ssh_params = connect_kwargs(self._host, self._state_dir)

    def _connect(self) -> None:
        open_client(self.ssh_client, self._host, self._state_dir)

    def get_connection(self, url, proxies=None):  # noqa: ANN001, ANN201 - the SDK's signature
        """One pool for the host, not one per URL: the SDK keys pools by the whole URL (so each
        container id gets its own, each holding SSH channels open), and sshd allows only
        ``MaxSessions`` (10 by default) channels per connection; past that, calls fail."""
        return super().get_connection("http+docker://ssh", proxies)


def host_engine(host: HostSpec, state_dir: Path, timeout: float = 120) -> docker.DockerClient:
    """A connected client for ``host``'s engine; HostUnreachable/HostKeyError when SSH fails,
    EngineError (from the caller's ping) when SSH works but no engine answers."""
    adapter = BakeryAdapter(host, state_dir, timeout)  # connects: errors name the host
    # use_ssh_client=True makes the SDK build a shell-out adapter that does not connect; it is
    # replaced at once by bakery's, mounted where the SDK mounts its own.
    client = docker.DockerClient(base_url=f"ssh://{host.user}@{host.address}:{host.port}",
                                 use_ssh_client=True, version=API_VERSION, timeout=timeout)
    client.api.mount("http+docker://ssh", adapter)
    client.api._custom_adapter = adapter
    return client
