"""A lost, damaged or read-only SQLite store (issue 12 item 5): a clear message and exit code 1
from the real command line, never a traceback, and never a silently re-created empty store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakery.errors import StoreError
from bakery.store import journal
from bakery.store.db import connect, marker_path

REPO = Path(__file__).resolve().parents[2]
CLI = "import sys, bakery.cli.state; from bakery.cli import run; sys.argv[0] = 'bakery'; run()"


@pytest.fixture
def project(monkeypatch) -> Iterator[Path]:
    """A project in a folder others may read (the read-only case runs as `nobody`)."""
    root = Path(tempfile.mkdtemp(prefix="bakery-damage-"))
    root.chmod(0o755)
    shutil.copytree(REPO / "rollouts", root / "rollouts")
    monkeypatch.delenv("BAKERY_STATE_DIR", raising=False)
    monkeypatch.delenv("BAKERY_STATE", raising=False)
    yield root
    for sub in root.rglob("*"):
        if sub.is_dir():
            sub.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _nobody_runs_bakery() -> bool:
    """Whether `nobody` can run this checkout's bakery (its folders must be readable by others)."""
    probe = subprocess.run([*NOBODY, sys.executable, "-c", "import bakery.cli"], capture_output=True)
    return probe.returncode == 0


def bakery(project: Path, *args: str, as_nobody: bool = False) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", CLI, "--project", str(project), *args]
    if as_nobody:
        argv = [*NOBODY, *argv]
    env = {k: v for k, v in os.environ.items() if k not in ("BAKERY_PROJECT", "BAKERY_STATE")}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=project, timeout=120)


def _with_history(project: Path, rollouts: int = 1) -> Path:
    db = project / ".bakery" / "state.db"
    conn = connect(db)
    for i in range(rollouts):
        journal.begin(conn, journal.RolloutRow(f"r{i:05d}", "staging", "web", "rollout", "canary", "web",
                                               "1.0.0", "f" * 64, "green", None, None, None, "succeeded",
                                               f"2026-01-01T00:00:{i % 60:02d}Z", None, "x" * 200))
    conn.close()
    return db


def _clean_failure(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_an_emptied_store_is_refused_not_recreated(project):
    db = _with_history(project)
    db.write_bytes(b"")
    _clean_failure(bakery(project, "history"), "is empty (0 bytes)", "bakery state check")
    assert db.stat().st_size == 0  # still the user's file, not a fresh empty store
    check = bakery(project, "state", "check")
    _clean_failure(check, "empty (0 bytes)", "restore")


def test_a_vanished_store_is_refused_while_its_marker_remains(project):
    db = _with_history(project)
    assert marker_path(db).exists()
    db.unlink()
    _clean_failure(bakery(project, "history"), "is missing although it was initialised here")
    assert not db.exists()
    _clean_failure(bakery(project, "state", "check"), "is missing", "restore")


def test_a_zero_byte_file_is_refused_even_without_a_marker(tmp_path):
    (tmp_path / "state.db").write_bytes(b"")
    with pytest.raises(StoreError, match="empty"):
        connect(tmp_path / "state.db")


def test_a_damaged_store_is_a_clear_error(project):
    db = _with_history(project, rollouts=400)
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[2 * page:] = b"\xa5" * (len(data) - 2 * page)  # keep the header and schema page, wreck the rest
    db.write_bytes(bytes(data))
    _clean_failure(bakery(project, "history"), "is damaged", "bakery state check")
    _clean_failure(bakery(project, "state", "check"), "is damaged", "restore")


def test_a_store_that_is_not_a_database_is_a_clear_error(project):
    db = _with_history(project)
    db.write_bytes(os.urandom(8192))
    _clean_failure(bakery(project, "history"), "is damaged")
    _clean_failure(bakery(project, "state", "check"), "is not a SQLite database")


def test_a_read_only_store_is_a_clear_error(project):
    db = _with_history(project)
    files = [*db.parent.iterdir(), db.parent]
    for path in files:
        path.chmod(0o555 if path.is_dir() else 0o444)
    # Modes do not bind root: as root, run as `nobody`, or where the checkout is closed to
    # others, make the files immutable instead (chattr +i binds root too).
    as_nobody = os.geteuid() == 0 and _nobody_runs_bakery()
    immutable = os.geteuid() == 0 and not as_nobody
    if immutable:
        subprocess.run(["chattr", "+i", *map(str, files)], check=True)
    try:
        _clean_failure(bakery(project, "history", as_nobody=as_nobody), "is read-only", "permissions")
        check = bakery(project, "state", "check", as_nobody=as_nobody)
        _clean_failure(check, "not writable")
        assert "damaged" not in check.stderr and "backup" not in check.stderr
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", *map(str, files)], check=True)


def test_a_store_from_before_markers_is_adopted(tmp_path):
    db = tmp_path / "state.db"
    connect(db).close()
    marker_path(db).unlink()
    connect(db).close()
    assert marker_path(db).exists()


def test_concurrent_first_opens_never_see_a_half_made_store(tmp_path):
    db, errors = tmp_path / "state.db", []

    def first_open() -> None:
        try:
            connect(db).close()
        except StoreError as exc:  # pragma: no cover - the failure this test guards against
            errors.append(exc)

    threads = [threading.Thread(target=first_open) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left
