"""SSH connections to one host with bakery's key and known_hosts, never the user's ~/.ssh.

paramiko (under both fabric and the docker SDK) would otherwise read ``~/.ssh/config`` and
``~/.ssh/known_hosts`` and, in fabric's case, accept any unknown host key silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import paramiko

from bakery.definitions.targets import HostSpec
from bakery.errors import EngineError
from bakery.hosts.keys import key_for, known_hosts_path
from bakery.hosts.trust import HostKeyError, RecordFirstContact, RefuseUnknown, changed_key_message

CONNECT_TIMEOUT = 10.0


class HostUnreachable(EngineError):
    """No SSH session to the host: down, filtered, or it refused bakery's key."""


def policy_for(state_dir: Path, first_contact: bool) -> paramiko.MissingHostKeyPolicy:
    path = known_hosts_path(state_dir)
    return RecordFirstContact(path) if first_contact else RefuseUnknown(path)


def new_client(state_dir: Path, policy: paramiko.MissingHostKeyPolicy) -> paramiko.SSHClient:
    """An unconnected client that knows only bakery's known_hosts."""
    client = paramiko.SSHClient()
    path = known_hosts_path(state_dir)
    if path.is_file():
        client.load_host_keys(str(path))
    client.set_missing_host_key_policy(policy)
    return client


def connect_kwargs(host: HostSpec, state_dir: Path, timeout: float = CONNECT_TIMEOUT) -> dict[str, Any]:
    """For ``SSHClient.connect``: one key file, no agent, no key search in ~/.ssh."""
    return {"hostname": host.address, "port": host.port, "username": host.user,
            "key_filename": str(key_for(host, state_dir)), "look_for_keys": False, "allow_agent": False,
            "timeout": timeout, "banner_timeout": timeout, "auth_timeout": timeout}


def open_client(client: paramiko.SSHClient, host: HostSpec, state_dir: Path,
                timeout: float = CONNECT_TIMEOUT) -> None:
    """Connect, turning paramiko's many failures into bakery errors that name the host."""
    key = key_for(host, state_dir)
    if not key.is_file():
        raise HostUnreachable(f"{host.name}: no SSH key at {key}; make bakery's with `bakery hosts key`")
    try:
        client.connect(**connect_kwargs(host, state_dir, timeout))
    except HostKeyError:
        raise
    except paramiko.BadHostKeyException as exc:
        raise HostKeyError(f"{host.name}: {changed_key_message(exc, _known(state_dir))}") from None
    except paramiko.AuthenticationException as exc:
        raise HostUnreachable(f"{host.name} ({host.ssh_target}): SSH refused the key {key}: {exc}; "
                              "add its public half to the user's authorized_keys") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise HostUnreachable(f"{host.name} ({host.ssh_target}) is unreachable over SSH: "
                              f"{exc or type(exc).__name__}") from None
    transport = client.get_transport()
    if transport is not None:
        # paramiko waits an hour for a new channel by default: a host that dies after connecting
        # must fail the next call in seconds, not hang the rollout.
        transport.channel_timeout = timeout
        transport.set_keepalive(5)


def _known(state_dir: Path) -> Path:
    return known_hosts_path(state_dir)


def connect(host: HostSpec, state_dir: Path, first_contact: bool = False,
            timeout: float = CONNECT_TIMEOUT) -> paramiko.SSHClient:
    client = new_client(state_dir, policy_for(state_dir, first_contact))
    open_client(client, host, state_dir, timeout)
    return client
