"""Secret files written and removed where the engine runs: on this machine for the local
runtime, over SSH (bakery's key and known_hosts, unknown host keys refused) on a host.
The decisions (paths, mounts, scripts) are in ``secret_paths.py``; this is only the I/O."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import paramiko

from bakery.definitions.targets import HostSpec
from bakery.errors import EngineError, RolloutError
from bakery.rollout.adapters import secret_paths as sp

SSH_TIMEOUT = 15.0


def local_root() -> str:
    root = sp.local_root(os.getuid(), os.environ.get("XDG_RUNTIME_DIR"))
    if root is None:
        raise RolloutError("secrets as files need a place to keep them on this machine: run as root or "
                           "with XDG_RUNTIME_DIR set, or say `secret_delivery: env` in the definition")
    return root


def write_local(directory: str, values: dict[str, str]) -> None:
    """Each value as ``<directory>/<NAME>``, 0444, written to a private temporary file and
    renamed over the old one (a running member keeps the file it mounted)."""
    missing = []
    path = Path(directory)
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):  # every folder bakery makes is 0700, not only the last
        folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    for name, value in values.items():
        tmp = os.path.join(directory, f".{name}.tmp")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, value.encode())
            os.fchmod(fd, 0o444)
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(directory, name))


def remove_local(root: str, rollout_id: str) -> None:
    """The fleet's directory (whatever its scope) and its scope's, when that is left empty."""
    for found in glob.glob(os.path.join(glob.escape(root), "*", glob.escape(rollout_id))):
        shutil.rmtree(found, ignore_errors=True)
        try:
            os.rmdir(os.path.dirname(found))
        except OSError:
            pass  # other fleets of the scope still have theirs


def _run(host: HostSpec, state_dir: Path, steps: list[tuple[str, bytes]]) -> None:
    """Each (script, stdin) over one SSH connection; the first that fails raises."""
    from bakery.hosts.connect import connect  # here, not at start-up: it loads paramiko

    client = connect(host, state_dir, first_contact=False, timeout=SSH_TIMEOUT)
    try:
        for script, stdin in steps:
            chan_in, chan_out, chan_err = client.exec_command(script, timeout=SSH_TIMEOUT)
            if stdin:
                chan_in.write(stdin)
            chan_in.channel.shutdown_write()
            status = chan_out.channel.recv_exit_status()
            err = chan_err.read().decode("utf-8", "replace").strip()
            if status != 0:
                raise EngineError(f"{host.name}: cannot write or remove secret files under {sp.HOST_ROOT}: "
                                  f"{err[-300:] or f'exit {status}'}")
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise EngineError(f"{host.name}: secret files: {exc or type(exc).__name__}") from exc
    finally:
        client.close()


def write_on_host(host: HostSpec, state_dir: Path, directory: str, values: dict[str, str]) -> None:
    """Over one SSH connection, each value on stdin only (a user other than root needs
    passwordless sudo, as for the registry's CA)."""
    sudo = host.user != "root"
    _run(host, state_dir, [(sp.write_script(directory, name, sudo), value.encode())
                           for name, value in sorted(values.items())])


def remove_on_host(host: HostSpec, state_dir: Path, rollout_id: str) -> None:
    _run(host, state_dir, [(sp.remove_script(sp.HOST_ROOT, rollout_id, sudo=host.user != "root"), b"")])
