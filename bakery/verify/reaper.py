"""Reap what a verification killed with SIGKILL left behind (issue 12, item 14).

A ``kill -9`` gives bakery no chance to run its ``finally`` blocks: the throwaway container,
its network and the temp folder stay, and (without the parent-death signal set in
session.py) the pytest child keeps running. Every run therefore records its owner, as
``<host>:<pid>:<process start time>``, in a label on the container and network and in an
``owner`` file in its temp folder; the next verification removes everything whose owner is
on this host and no longer alive. The start time guards against a recycled pid; another
host's runs (a shared engine) are never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors

from bakery.engine import labels

ROLE = "verify"
OWNER_LABEL = f"{labels.PREFIX}.verify.owner"
TEMP_PREFIX = "bakery-verify-"
OWNER_FILE = "owner"


def process_start(pid: int) -> str | None:
    """The start time of ``pid`` (clock ticks since boot, /proc/<pid>/stat field 22), or None
    when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = stat.rsplit(")", 1)[1].split()
    return rest[19] if len(rest) > 19 else None


def owner_token(pid: int | None = None) -> str:
    """This process (or ``pid``) as an owner: ``host:pid:start``."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{process_start(pid) or '?'}"


def owner_dead(token: str, host: str | None = None,
               start_of: Callable[[int], str | None] = process_start) -> bool:
    """Whether the run that wrote ``token`` is gone. Unknown shapes and other hosts' runs are
    never judged dead (not ours to remove). Pure given ``start_of``."""
    parts = token.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    owner_host, pid, start = parts
    if owner_host != (host if host is not None else socket.gethostname()):
        return False
    current = start_of(int(pid))
    return current is None or (start != "?" and current != start)


def make_temp_folder() -> Path:
    """A private temp folder for one run, marked with its owner so a later run can reap it."""
    folder = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    (folder / OWNER_FILE).write_text(owner_token())
    return folder


@dataclass
class Reaped:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.containers or self.networks or self.folders)

    def __str__(self) -> str:
        parts = [f"{len(items)} {kind}" for kind, items in
                 (("container(s)", self.containers), ("network(s)", self.networks),
                  ("temp folder(s)", self.folders)) if items]
        return "removed what a killed verification left: " + ", ".join(parts)


def _dead(attrs_labels: dict[str, str] | None) -> bool:
    token = (attrs_labels or {}).get(OWNER_LABEL)
    return bool(token) and owner_dead(token)


def reap_folders(temp_root: Path | None = None) -> list[str]:
    """Remove temp folders of dead runs (only ours: they carry an owner file)."""
    removed = []
    root = temp_root or Path(tempfile.gettempdir())
    for folder in root.glob(TEMP_PREFIX + "*"):
        try:
            token = (folder / OWNER_FILE).read_text().strip()
        except OSError:
            continue
        if owner_dead(token):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return removed


def reap(client: Any, temp_root: Path | None = None) -> Reaped:
    """Remove verification containers, networks and temp folders whose owning run is dead.

    ``client`` is a docker.DockerClient. Runs still alive (here or on another host) are left
    alone, so concurrent verifications are safe. Engine errors on one object do not stop the
    rest (a half-reaped leftover is retried next time)."""
    reaped = Reaped()
    selector = {"label": [f"{labels.ROLE}={ROLE}", OWNER_LABEL]}
    for item in client.api.containers(all=True, filters=selector):
        if _dead(item.get("Labels")):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client.api.remove_container(item["Id"], force=True, v=True)
                reaped.containers.append(item["Names"][0].lstrip("/"))
    for item in client.api.networks(filters=selector):
        if _dead(item.get("Labels")):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client.api.remove_network(item["Id"])
                reaped.networks.append(item["Name"])
    reaped.folders = reap_folders(temp_root)
    return reaped
