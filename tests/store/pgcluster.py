"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl on a unix socket
under a temp folder, no systemd, no TCP port. Debian's binaries live in /usr/lib/postgresql/N/bin.

initdb refuses to run as root, so as root the cluster runs as the `postgres` user (made by
Debian's package) through runuser, in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def pg_bin() -> Path:
    """The newest installed PostgreSQL bin folder (Debian layout), or where initdb is on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql; "
                       "scripts/setup.sh does it)")


@dataclass
class Cluster:
    folder: Path
    socket_dir: Path
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql:///{database}?host={self.socket_dir}&user={self.user}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = name or "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_cluster_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@contextmanager
def cluster(durable: bool = False) -> Iterator[Cluster]:
    """Start a cluster; stop it and remove its folder on exit. Tests run it without fsync (a
    throwaway); ``durable`` keeps PostgreSQL's defaults, for honest benchmark numbers."""
    binaries = pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="bakery-pg-"))
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, sock = folder / "data", folder / "sock"
    run = _as_cluster_user
    subprocess.run(run([str(binaries / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
                        "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
    subprocess.run(run(["mkdir", "-p", str(sock)]), check=True)
    options = f"-c listen_addresses='' -c unix_socket_directories={sock} -c max_connections=100"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(run([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                        str(folder / "log"), "-w", "-t", "60", "start"]),
                   check=True, capture_output=True)
    try:
        yield Cluster(folder, sock, user)
    finally:
        subprocess.run(run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                            "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
