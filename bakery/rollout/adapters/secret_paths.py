"""Secrets as files for the local and SSH runtimes: the pure decisions (which delivery, where
the files live, how they are mounted, the shell that writes them on a host).

A secret ``NAME`` becomes the file ``/run/secrets/NAME`` inside every member, as Swarm does it,
so its value is in nothing ``docker inspect`` shows (env, labels, command). bakery writes the
values on the machine that runs the engine, under ``/run`` (a tmpfs on systemd hosts, so they
never reach a disk there), one directory per rollout (0700, files 0444), and bind-mounts each
file read-only into the members. The directory lives as long as any member of its fleet
exists: a stopped standby fleet started for a rollback, or a resumed run, finds it again.
"""

from __future__ import annotations

import re
import shlex

SECRETS_DIR = "/run/secrets"  # where members read them, as on Swarm
HOST_ROOT = "/run/bakery/secrets"  # on the engine's machine, for root (and sudo on hosts)
FILE = "file"
ENV = "env"
_SAFE = re.compile(r"[A-Za-z0-9_.-]+")  # rollout ids, slugs and secret names are all of this


def delivers_files(delivery: str, values: dict[str, str]) -> bool:
    """Files unless the definition asked for env; nothing to write without secrets."""
    return delivery != ENV and bool(values)


def container_env(delivery: str, values: dict[str, str]) -> dict[str, str]:
    """What goes into the members' environment: the values only when a definition asks."""
    return dict(values) if delivery == ENV else {}


def local_root(uid: int, runtime_dir: str | None) -> str | None:
    """Where this machine keeps them: /run for root, the user's runtime dir (a tmpfs) for
    anyone else; None when neither can be used."""
    if uid == 0:
        return HOST_ROOT
    return f"{runtime_dir.rstrip('/')}/bakery/secrets" if runtime_dir else None


def engine_is_local(base_url: str) -> bool:
    """Whether the engine runs on this machine (its unix socket), so a path here is a path
    there. A ``DOCKER_HOST`` over TCP or SSH could not mount the files bakery writes here."""
    return base_url.startswith("http+docker://localhost") or base_url.startswith("http+unix://")


def _safe(part: str, what: str) -> str:
    if not _SAFE.fullmatch(part) or part in (".", ".."):
        raise ValueError(f"unsafe {what} for a secrets path: {part!r}")
    return part


def rollout_dir(root: str, slug: str, rollout_id: str) -> str:
    """``<root>/<project-env-service>/<rollout_id>``: one directory per fleet."""
    return f"{root.rstrip('/')}/{_safe(slug, 'scope')}/{_safe(rollout_id, 'rollout id')}"


def binds(directory: str, names: list[str] | tuple[str, ...]) -> list[str]:
    """Each file mounted read-only at /run/secrets/<NAME> (engine ``Binds`` syntax)."""
    return [f"{directory}/{_safe(n, 'secret name')}:{SECRETS_DIR}/{n}:ro" for n in sorted(names)]


def write_script(directory: str, name: str, sudo: bool = False) -> str:
    """Shell run on a host over SSH that stores its stdin as ``<directory>/<name>`` (0444, in a
    0700 directory), replacing it atomically. The value travels on stdin only: never on a
    command line, which other users of the host could read in ``ps``."""
    d, f = shlex.quote(directory), shlex.quote(f"{directory}/{_safe(name, 'secret name')}")
    tmp = shlex.quote(f"{directory}/.{name}.tmp")
    body = f"umask 077 && mkdir -p {d} && cat > {tmp} && chmod 0444 {tmp} && mv -f {tmp} {f}"
    return f"sudo -n sh -c {shlex.quote(body)}" if sudo else body


def remove_script(root: str, rollout_id: str, sudo: bool = False) -> str:
    """Shell that removes a fleet's secret directory (any scope: rollout ids are unique) on a
    host, and the scope's directory when it is left empty."""
    r, rid = shlex.quote(root.rstrip("/")), _safe(rollout_id, "rollout id")
    body = (f"for d in {r}/*/{rid}; do [ -d \"$d\" ] || continue; rm -rf -- \"$d\"; "
            f"rmdir -- \"$(dirname \"$d\")\" 2>/dev/null; done; true")
    return f"sudo -n sh -c {shlex.quote(body)}" if sudo else body
