"""Streaming an image to a host: ``docker save`` here piped into ``docker load`` there, through
the OpenSSH client with bakery's key and known_hosts.

Why OpenSSH here when engine calls go through paramiko: paramiko does its ciphers in Python,
OpenSSH in C; bench/bench_hosts.py measures both (13.5 s vs 16.8 s for the 140 MB web image
to three hosts at once on a loaded 2-core machine; FACTS.md: 5.7 s for one host by OpenSSH).
The trust is the same: bakery's known_hosts only, ``StrictHostKeyChecking=yes`` (an unknown
or changed key is refused), no ``~/.ssh/config`` (``-F /dev/null``), only bakery's key
(``IdentitiesOnly``), no agent.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from bakery.definitions.targets import HostSpec
from bakery.errors import EngineError
from bakery.hosts.keys import key_for, known_hosts_path


def have_openssh() -> bool:
    return shutil.which("ssh") is not None


def ssh_argv(host: HostSpec, state_dir: Path, remote: list[str], connect_timeout: int = 10) -> list[str]:
    """The ``ssh`` command line for ``remote`` on ``host``. Pure."""
    return ["ssh", "-F", "/dev/null", "-i", str(key_for(host, state_dir)),
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts_path(state_dir)}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
            "-o", f"ConnectTimeout={connect_timeout}", "-o", "ServerAliveInterval=5",
            "-p", str(host.port), "-l", host.user, "--", host.address, *remote]


def stream_load(host: HostSpec, state_dir: Path, chunks: Iterable[bytes]) -> str:
    """Pipe ``chunks`` (a ``docker save`` stream) into ``docker load`` on the host; its output."""
    proc = subprocess.Popen(ssh_argv(host, state_dir, ["docker", "load"]), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        for chunk in chunks:
            proc.stdin.write(chunk)
    except BrokenPipeError:
        pass  # the remote side ended early: its exit code and stderr say why
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    # docker load says a line or two: reading after the stream cannot fill a pipe and block.
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=600)
    if proc.returncode != 0:
        raise EngineError(f"{host.name}: docker load over SSH failed ({proc.returncode}): "
                          f"{err.decode(errors='replace').strip()[-500:]}")
    return out.decode(errors="replace")
