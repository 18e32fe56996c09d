"""`bakery state show | check | migrate` through the real command line, and the state URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakery.errors import DefinitionError, UsageError
from bakery.packages import Package
from bakery.project import Project
from bakery.store import builds, journal, migrations, patches, verifications
from bakery.store.db import connect
from bakery.store.url import state_url

CLI = "import sys, bakery.cli.state; from bakery.cli import run; sys.argv[0] = 'bakery'; run()"


def bakery(project: Path, *args: str, state: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("BAKERY_PROJECT", "BAKERY_STATE",
                                                            "BAKERY_STATE_DIR")}
    if state:
        env["BAKERY_STATE"] = state
    return subprocess.run([sys.executable, "-c", CLI, "--project", str(project), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def _checkout(root: Path) -> Path:
    (root / "rollouts" / "staging").mkdir(parents=True)
    return root


def _populate(db: Path) -> None:
    """A history with the awkward parts: equal timestamps, re-recorded builds, failed verifies."""
    conn = connect(db)
    for i, (fp, version) in enumerate([("a", "1.0.0"), ("b", "1.1.0"), ("c", "1.1.0"), ("a", "1.0.0")]):
        builds.record(conn, builds.BuildRecord(fp * 64, "web", version, f"sha256:{fp * 64}",
                                               f"2026-01-0{1 + i // 2}T00:00:00Z", "sha256:base",
                                               (Package("curl", f"7.{i}", "amd64"),), {"v": i}))
    for i, passed in enumerate([True, False, True]):
        verifications.record(conn, verifications.VerificationRecord(
            "abc"[i] * 64, f"bakery/web:{i}", passed, f"2026-01-01T00:0{i}:00Z", 1.25 * i,
            {"counts": {"passed": 3 * i, "failed": 0 if passed else 1}}))
    for i in range(5):
        rid = f"2026010100000{i}abcdef"
        journal.begin(conn, journal.RolloutRow(rid, "staging", "web", "rollout", "canary", "web", "1.1.0",
                                               "c" * 64, "green" if i % 2 else "blue", None, None, None,
                                               "running", "2026-01-01T00:00:00Z", None, ""))
        for action in ("StartGreen", "SetWeights", "Promote"):
            journal.step(conn, rid, "phase", action, {"i": i})
        journal.finish(conn, rid, "succeeded" if i != 3 else "failed", "why" if i == 3 else "")
    patches.record(conn, patches.PatchRecord("run1", "web", "patched", "t", "1.0.0", "a" * 64,
                                             "1.0.0+patch.1", "b" * 64, [{"name": "curl"}], {"ok": True}))
    conn.close()


def _records(url: str) -> dict:
    conn = connect(url)
    try:
        rows = {t: [{k: r[k] for k in r.keys() if k != "rowid"} for r in conn.execute(
            f"SELECT * FROM {t} ORDER BY {o}")] for t, o in (
            ("verifications", "id"), ("rollout_steps", "rollout_id, seq"), ("patches", "id"))}
        rows["history"] = [r.as_dict() for r in journal.history(conn, limit=1000)]
        rows["builds"] = builds.all_builds(conn)
        return rows
    finally:
        conn.close()


def test_migrate_sqlite_to_postgresql_and_back_preserves_everything(tmp_path, pg_url, docker_engine):
    first, second = _checkout(tmp_path / "one"), _checkout(tmp_path / "two")
    _populate(first / ".bakery" / "state.db")

    out = bakery(first, "state", "migrate", "--to", pg_url)
    assert out.returncode == 0, out.stderr
    assert "copied 27 records" in out.stdout
    again = bakery(first, "state", "migrate", "--to", pg_url)
    assert again.returncode == 0 and "copied 0 records" in again.stdout  # idempotent

    back = bakery(second, "state", "migrate", "--to", "sqlite:", state=pg_url)
    assert back.returncode == 0, back.stderr

    original = f"sqlite://{first / '.bakery' / 'state.db'}"
    returned = f"sqlite://{second / '.bakery' / 'state.db'}"
    assert _records(original) == _records(pg_url) == _records(returned)
    for command in (["history", "--json", "--limit", "1000"], ["images", "--json"], ["images"],
                    ["history"]):
        before, after = bakery(first, *command), bakery(second, *command)
        assert before.returncode == 0, before.stderr
        assert before.stdout == after.stdout
    shown = json.loads(bakery(second, "state", "show", "--json", state=pg_url).stdout)
    assert shown["backend"] == "postgresql"
    assert shown["counts"] == json.loads(bakery(first, "state", "show", "--json").stdout)["counts"]


def test_migrate_refuses_a_target_with_another_history(tmp_path, pg_url):
    first = _checkout(tmp_path / "one")
    _populate(first / ".bakery" / "state.db")
    other = connect(pg_url)
    verifications.record(other, verifications.VerificationRecord("z" * 64, "x", True, "t", 1.0, {}))
    other.close()
    out = bakery(first, "state", "migrate", "--to", pg_url)
    assert out.returncode == 1 and "already holds different records" in out.stderr
    check = connect(pg_url)
    assert check.execute("SELECT COUNT(*) FROM builds").fetchone()[0] == 0  # nothing was written
    check.close()


def test_show_and_check_on_postgresql(tmp_path, pg_url):
    project = _checkout(tmp_path / "p")
    out = bakery(project, "state", "show", state=pg_url)
    assert out.returncode == 0 and "backend  postgresql" in out.stdout
    assert f"schema   {migrations.LATEST}" in out.stdout
    assert bakery(project, "state", "check", state=pg_url).returncode == 0
    gone = bakery(project, "state", "check", state=f"postgresql:///x?host={tmp_path}")
    assert gone.returncode == 1 and "cannot reach the state server" in gone.stderr


def test_state_url_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("BAKERY_STATE", raising=False)
    monkeypatch.delenv("BAKERY_STATE_DIR", raising=False)
    project = Project(_checkout(tmp_path / "p"))
    assert state_url(project).path == project.db_path
    (project.root / "bakery.yaml").write_text("# team state\nstate: postgresql://deploy@db.internal/bakery\n")
    assert state_url(project).dsn == "postgresql://deploy@db.internal/bakery"
    monkeypatch.setenv("BAKERY_STATE", "sqlite:elsewhere.db")
    assert state_url(project).path == project.root / "elsewhere.db"
    monkeypatch.setenv("BAKERY_STATE", "mysql://x")
    with pytest.raises(UsageError, match="BAKERY_STATE"):
        state_url(project)
    monkeypatch.delenv("BAKERY_STATE")
    for text, key in [("state: 3\n", "state"), ("\nstate: postgresql://u:secret@h/db\n", "state"),
                      ("state: redis://x\n", "state"), ("stat: x\n", "stat")]:
        (project.root / "bakery.yaml").write_text(text)
        with pytest.raises(DefinitionError) as err:
            state_url(project)
        assert err.value.key == key and err.value.line == text.count("\n", 0, text.index(key)) + 1
        assert err.value.exit_code == 2


def test_a_verification_the_store_could_not_take_is_imported_later(tmp_path, store_url):
    project = _checkout(tmp_path / "p")
    rec = verifications.VerificationRecord("e" * 64, "bakery/web:1.2.0", True, "2026-01-01T00:00:00Z", 3.5,
                                           {"counts": {"passed": 18}})
    saved = tmp_path / "verify.json"
    saved.write_text(verifications.to_json(rec))
    out = bakery(project, "state", "import-verification", str(saved), state=store_url)
    assert out.returncode == 0, out.stderr
    conn = connect(store_url)
    assert verifications.latest(conn, "e" * 64) == rec
    conn.close()
    saved.write_text("{}")
    bad = bakery(project, "state", "import-verification", str(saved), state=store_url)
    assert bad.returncode == 2 and "not a verification record" in bad.stderr
