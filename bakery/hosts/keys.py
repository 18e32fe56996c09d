"""bakery's own SSH key and known_hosts, under the state folder (``.bakery/hosts/``).

bakery never reads or writes the user's ``~/.ssh``: a deploy key and the host keys bakery has
seen belong to the project, so two projects (or a test run) cannot trust each other's hosts.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bakery.definitions.targets import HostSpec


def hosts_dir(state_dir: Path) -> Path:
    return state_dir / "hosts"


def key_path(state_dir: Path) -> Path:
    return hosts_dir(state_dir) / "id_ed25519"


def known_hosts_path(state_dir: Path) -> Path:
    return hosts_dir(state_dir) / "known_hosts"


def key_for(host: HostSpec, state_dir: Path) -> Path:
    """The host's own key file when the definition names one, else bakery's key."""
    return host.key if host.key is not None else key_path(state_dir)


def make_key(state_dir: Path, comment: str = "bakery") -> tuple[Path, bool]:
    """bakery's ed25519 key (private 0600, ``.pub`` beside it); (path, made now). An existing
    key is kept: replacing it would lock bakery out of every host that trusts it."""
    path = key_path(state_dir)
    if path.is_file():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
    path.with_suffix(".pub").write_text(public.decode() + f" {comment}\n")
    return path, True


def public_line(state_dir: Path) -> str:
    """The authorized_keys line of bakery's key."""
    return key_path(state_dir).with_suffix(".pub").read_text().strip()
