"""Host keys: checked against bakery's known_hosts; first contact recorded, a changed key refused.

Only ``bakery hosts check`` records a first contact (and prints the key's fingerprint, so it is
never accepted silently); a rollout refuses a host bakery has never seen. A host whose key
differs from the recorded one is refused everywhere (paramiko's BadHostKeyException), with the
file and line to remove if the change is known to be legitimate.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import paramiko

from bakery.errors import EngineError

_LOCK = threading.Lock()


class HostKeyError(EngineError):
    """An unknown or changed host key: bakery will not talk to that host."""


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_name(address: str, port: int) -> str:
    """How known_hosts names a host: ``addr``, or ``[addr]:port`` off port 22."""
    return address if port == 22 else f"[{address}]:{port}"


@dataclass
class FirstContact:
    host: str
    key_type: str
    fingerprint: str


class RecordFirstContact(paramiko.MissingHostKeyPolicy):
    """Trust on first use, written to bakery's known_hosts and remembered for the report."""

    def __init__(self, path: Path):
        self.path = path
        self.recorded: list[FirstContact] = []

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = paramiko.HostKeys()
            if self.path.is_file():
                keys.load(str(self.path))
            keys.add(hostname, key.get_name(), key)
            keys.save(str(self.path))
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.recorded.append(FirstContact(hostname, key.get_name(), fingerprint(key)))


class RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, path: Path):
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyError(f"{hostname}: host key {key.get_name()} {fingerprint(key)} is not in "
                           f"{self.path}; run `bakery hosts check ENV` to record it after checking "
                           "the fingerprint")


def changed_key_message(exc: paramiko.BadHostKeyException, path: Path) -> str:
    return (f"{exc.hostname}: the host key CHANGED (now {exc.key.get_name()} {fingerprint(exc.key)}, "
            f"recorded {fingerprint(exc.expected_key)} in {path}); refusing to connect. If the host "
            "was reinstalled, remove its line from that file and run `bakery hosts check ENV`")
