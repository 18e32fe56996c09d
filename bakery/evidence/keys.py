"""The project's signing keys.

Public keys live in the repository (``keys/<name>.pub``, PEM), where reviewers see which
keys a project trusts and where rollouts name them (``requires: {signed_by: [name]}``).
Private keys never do: ``$BAKERY_SIGNING_KEY`` names one file, otherwise they live in
``$XDG_CONFIG_HOME/bakery/keys/<keyid>.pem`` (default ``~/.config/bakery/keys``), and a
path inside the project or its state folder is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakery.errors import DefinitionError, UsageError
from bakery.project import Project

SIGNING_KEY_ENV = "BAKERY_SIGNING_KEY"


@dataclass(frozen=True)
class PublicKey:
    name: str      # the file stem under keys/, or the file name of a --key
    path: Path
    key: Any       # securesystemslib SSlibKey

    @property
    def keyid(self) -> str:
        return self.key.keyid


def keys_dir(project: Project) -> Path:
    return project.root / "keys"


def private_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bakery" / "keys"


def load_public(path: Path, name: str | None = None, shown: str | None = None) -> PublicKey:
    """A PEM public key file as a securesystemslib key; bad files are bad input (exit 2)."""
    # Deferred: cryptography and securesystemslib load only when evidence is signed or checked.
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.signer import SSlibKey

    shown = shown or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DefinitionError(shown, None, None, f"cannot read public key: {exc.strerror}") from None
    try:
        key = SSlibKey.from_crypto(load_pem_public_key(data))
    except ValueError as exc:
        raise DefinitionError(shown, None, None, f"not a PEM public key ({exc})") from None
    return PublicKey(name or path.stem, path, key)


def project_keys(project: Project) -> dict[str, PublicKey]:
    """The trusted public keys by name: every keys/<name>.pub of the project."""
    folder = keys_dir(project)
    if not folder.is_dir():
        return {}
    return {p.stem: load_public(p, shown=p.relative_to(project.root).as_posix())
            for p in sorted(folder.glob("*.pub"))}


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_private_location(project: Project, path: Path) -> None:
    """A private key in the repository or the state store would travel with them: refuse."""
    for folder, what in ((project.state_dir, "the state folder"), (project.root, "the project")):
        if _inside(path, folder):
            raise UsageError(f"refusing a private key at {path}: it lies inside {what} "
                             f"({folder}); keep it outside, e.g. in {private_dir()}")


def init_key(project: Project, name: str) -> tuple[PublicKey, Path]:
    """Generate an ed25519 pair: keys/<name>.pub in the project, the private key outside it."""
    # Deferred, see load_public.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from securesystemslib.signer import CryptoSigner

    public_path = keys_dir(project) / f"{name}.pub"
    if public_path.exists():
        raise UsageError(f"keys/{name}.pub already exists; pick another --name")
    private = Ed25519PrivateKey.generate()
    signer = CryptoSigner(private)
    keyid = signer.public_key.keyid
    env = os.environ.get(SIGNING_KEY_ENV)
    private_path = Path(env).expanduser() if env else private_dir() / f"{keyid}.pem"
    check_private_location(project, private_path)
    if private_path.exists():
        raise UsageError(f"a private key already exists at {private_path}; not overwriting it")
    private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(signer.private_bytes)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(private.public_key().public_bytes(Encoding.PEM,
                                                              PublicFormat.SubjectPublicKeyInfo))
    return PublicKey(name, public_path, signer.public_key), private_path


def load_signer(project: Project) -> tuple[PublicKey, Any] | None:
    """The signer for the first project key whose private key is at hand, else None."""
    trusted = project_keys(project)
    if not trusted:
        return None
    # Deferred, see load_public.
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner

    env = os.environ.get(SIGNING_KEY_ENV)
    candidates = [Path(env).expanduser()] if env else []
    for public in trusted.values():
        for path in candidates + [private_dir() / f"{public.keyid}.pem"]:
            if not path.is_file():
                continue
            check_private_location(project, path)
            try:
                private = load_pem_private_key(path.read_bytes(), None)
                return public, CryptoSigner(private, public.key)
            except (ValueError, TypeError):
                continue  # another key's file (a mismatch raises ValueError too)
    return None
