"""What drift compares, as plain values: what a member IS (read from the engine) and what its
rollout PUT there (the verified build, the image's config, the definition).

Pure: ``member_facts`` and ``image_facts`` turn the engine's inspect dicts (``container.attrs``,
``image.attrs``) into these values, so every reading rule is a unit test without an engine.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

#: Default writable paths (issue 14): scratch, runtime state, logs and caches. A file changed
#: under one of them is the service working, not drift. ``image.yaml`` ``writable:`` adds more;
#: ``/var/lib/<package>`` (and the package name up to its first dash, nginx-light -> nginx)
#: is added for each of the image's packages: the state directories its services own.
DEFAULT_WRITABLE = ("/tmp", "/var/tmp", "/run", "/var/run", "/var/log", "/var/cache")

# container.diff() kinds
MODIFIED, ADDED, DELETED = 0, 1, 2
KIND_NAMES = {MODIFIED: "changed", ADDED: "added", DELETED: "deleted"}


@dataclass(frozen=True)
class Proc:
    """One process of the member, from /proc/<pid>/stat and cmdline."""

    pid: int
    ppid: int
    comm: str
    cmdline: tuple[str, ...]


@dataclass
class MemberFacts:
    """What one member is. ``error``: it could not be read (exit 1, not drift)."""

    name: str
    status: str  # running, exited, created, missing
    image_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env_names: frozenset[str] = frozenset()
    user: str = ""
    restart_policy: str = ""
    mounts: tuple[str, ...] = ()  # destinations
    published: tuple[str, ...] = ()  # "8080/tcp->32768" (container port -> host port)
    changes: tuple[tuple[str, int], ...] = ()  # container.diff(): (path, kind)
    content_differs: dict[str, bool | None] = field(default_factory=dict)  # path -> differs (None: unknown)
    processes: tuple[Proc, ...] | None = None  # None: not read (not running)
    reader_pid: int = 0  # the pid of drift's own reading exec, never a finding
    error: str = ""


@dataclass(frozen=True)
class ImageFacts:
    """The verified image's config as the engine holds it (what a member started from it has)."""

    image_id: str
    cmd: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    env_names: frozenset[str]
    user: str
    labels: dict[str, str]
    volumes: tuple[str, ...]
    healthcheck: tuple[str, ...] | None  # the engine's test, e.g. ("CMD-SHELL", "...")


@dataclass(frozen=True)
class Expected:
    """What the rollout put in a member's place."""

    image: ImageFacts | None  # None: the fingerprint has no build record (not a bakery image)
    fingerprint: str
    verified: bool
    secrets: frozenset[str] = frozenset()  # env names the definition adds at run time
    writable: tuple[str, ...] = DEFAULT_WRITABLE
    published: tuple[str, ...] = ()  # ports the runtime publishes (SSH hosts); none locally
    programs: tuple[str, ...] = ()  # what PID 1 may be (procfs.expected_programs)
    must_run: bool = True  # a live member must run; a standby may be stopped


def _argv(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value) or None


def _env_names(env: list[str] | None) -> frozenset[str]:
    return frozenset(item.split("=", 1)[0] for item in env or [])


def member_facts(attrs: dict[str, Any]) -> MemberFacts:
    """Config facts from ``container.attrs`` (docker inspect). Pure."""
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    published = {f"{port}->{b.get('HostPort', '')}" for port, binds in ports.items() for b in binds or []}
    # a stopped container keeps its bindings only in HostConfig
    published |= {f"{port}->{b.get('HostPort', '')}"
                  for port, binds in (host.get("PortBindings") or {}).items() for b in binds or []}
    return MemberFacts(
        name=(attrs.get("Name") or "").lstrip("/"),
        status=(attrs.get("State") or {}).get("Status", ""),
        image_id=attrs.get("Image", ""),
        labels=dict(config.get("Labels") or {}),
        cmd=_argv(config.get("Cmd")), entrypoint=_argv(config.get("Entrypoint")),
        env_names=_env_names(config.get("Env")),
        user=config.get("User") or "",
        restart_policy=(host.get("RestartPolicy") or {}).get("Name") or "no",
        mounts=tuple(sorted(m.get("Destination", "") for m in attrs.get("Mounts") or [])),
        published=tuple(sorted(published)),
    )


def image_facts(attrs: dict[str, Any]) -> ImageFacts:
    """The image's config from ``image.attrs``. Pure."""
    config = attrs.get("Config") or {}
    health = (config.get("Healthcheck") or {}).get("Test")
    return ImageFacts(
        image_id=attrs.get("Id", ""), cmd=_argv(config.get("Cmd")),
        entrypoint=_argv(config.get("Entrypoint")), env_names=_env_names(config.get("Env")),
        user=config.get("User") or "", labels=dict(config.get("Labels") or {}),
        volumes=tuple(sorted(config.get("Volumes") or {})), healthcheck=_argv(health),
    )


def writable_paths(declared: tuple[str, ...], packages: list[str]) -> tuple[str, ...]:
    """The defaults, the state folders of the image's packages, and what image.yaml declares."""
    owned = []
    for name in packages:
        owned += [f"/var/lib/{name}", f"/var/lib/{name.split('-', 1)[0]}"]
    return tuple(dict.fromkeys([*DEFAULT_WRITABLE, *owned, *declared]))


def under(path: str, roots: tuple[str, ...]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one (by path components, not prefix)."""
    path = posixpath.normpath(path)
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


ARG_SEP = "\x1f"

#: One exec, as verify reads /proc: its own pid first (so it is never a finding), then every
#: process. Needs only sh, cat and tr.
PROCESS_SCRIPT = (
    'echo "self $$"; for d in /proc/[0-9]*; do s=$(cat "$d/stat" 2>/dev/null) || continue; '
    'c=$(tr \'\\000\' \'\\037\' < "$d/cmdline" 2>/dev/null); printf \'%s\\t%s\\n\' "$s" "$c"; done'
)


def parse_processes(text: str) -> tuple[tuple[Proc, ...], int]:
    """Processes from the reading exec's output, and the exec's own pid.

    The script (``PROCESS_SCRIPT``) prints ``self <pid>`` then, per process, ``<stat line>``,
    a tab, and its cmdline with each NUL as ``ARG_SEP``. ``stat``'s comm is in parentheses and
    may hold spaces, so fields are counted from its closing parenthesis."""
    procs: list[Proc] = []
    me = 0
    for line in text.splitlines():
        if line.startswith("self "):
            me = int(line.split()[1]) if line.split()[1:] and line.split()[1].isdigit() else 0
            continue
        stat, _, cmdline = line.partition("\t")
        head, sep, tail = stat.rpartition(")")
        if not sep or "(" not in head:
            continue
        pid_text, _, comm = head.partition(" (")
        rest = tail.split()
        if not pid_text.strip().isdigit() or len(rest) < 2 or not rest[1].lstrip("-").isdigit():
            continue
        argv = tuple(a for a in cmdline.split(ARG_SEP) if a)
        procs.append(Proc(int(pid_text), int(rest[1]), comm, argv))
    return tuple(sorted(procs, key=lambda p: p.pid)), me
