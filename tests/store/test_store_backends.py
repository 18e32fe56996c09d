"""Every store module on both backends (SQLite file and a real PostgreSQL server)."""

from __future__ import annotations

import pytest

from bakery.errors import StoreError
from bakery.packages import Package
from bakery.store import builds, journal, migrations, patches, verifications
from bakery.store.db import Row, _pg_sql, connect, schema_version


@pytest.fixture
def conn(store_url):
    c = connect(store_url)
    yield c
    c.close()


def _build(fp: str, version: str, created: str, name: str = "web") -> builds.BuildRecord:
    return builds.BuildRecord(fp * 64, name, version, "sha256:" + fp * 64, created, "sha256:base",
                              (Package("curl", "7.88", "amd64"),), {"name": name}, f"/sbom/{fp}.json")


def test_builds_round_trip_and_order(conn):
    builds.record(conn, _build("a", "1.0.0", "2026-01-01T00:00:00Z"))
    builds.record(conn, _build("b", "1.1.0", "2026-01-02T00:00:00Z"))
    builds.record(conn, _build("c", "1.1.0", "2026-01-02T00:00:00Z"))  # same time: insertion decides
    builds.record(conn, _build("d", "2.0.0", "2026-01-03T00:00:00Z", name="lb"))
    assert builds.get(conn, "a" * 64) == _build("a", "1.0.0", "2026-01-01T00:00:00Z")
    assert [b.fingerprint[0] for b in builds.find(conn, "web")] == ["c", "b", "a"]
    assert [b.fingerprint[0] for b in builds.find(conn, "web", "1.1.0")] == ["c", "b"]
    assert [b.name for b in builds.all_builds(conn)] == ["lb", "web", "web", "web"]
    assert builds.resolve(conn, "web", "fp-aaaa").version == "1.0.0"
    assert builds.resolve(conn, "web", "1.1.0").fingerprint[0] == "c"
    assert builds.versions(conn, "web") == ["1.0.0", "1.1.0"]
    # Re-recording a fingerprint replaces it, and it then sorts as the newest of equal times.
    builds.record(conn, _build("b", "1.1.0", "2026-01-02T00:00:00Z"))
    assert [b.fingerprint[0] for b in builds.find(conn, "web", "1.1.0")] == ["b", "c"]
    assert len(builds.all_builds(conn)) == 4


def test_verifications_latest_decides(conn):
    fp = "f" * 64
    assert verifications.latest(conn, fp) is None
    verifications.record(conn, verifications.VerificationRecord(fp, "web:1", True, "t1", 1.5,
                                                                {"counts": {"passed": 3}}))
    verifications.record(conn, verifications.VerificationRecord(fp, "web:1", False, "t2", 2.25,
                                                                {"counts": {"failed": 1}}))
    rec = verifications.latest(conn, fp)
    assert rec == verifications.VerificationRecord(fp, "web:1", False, "t2", 2.25, {"counts": {"failed": 1}})
    assert not verifications.is_verified(conn, fp)


def _rollout(rid: str, started: str, status: str = "running") -> journal.RolloutRow:
    return journal.RolloutRow(rid, "staging", "web", "rollout", "canary", "web", "1.1.0", "f" * 64,
                              "green", None, None, None, status, started, None, "")


def test_journal_steps_history_and_unfinished(conn):
    journal.begin(conn, _rollout("r1", "2026-01-01T00:00:00Z"))
    assert journal.step(conn, "r1", "starting", "StartGreen", {"n": 2}) == 1
    assert journal.step(conn, "r1", "canary", "SetWeights", {"green": 10}) == 2
    assert [r.id for r in journal.unfinished(conn, "staging", "web")] == ["r1"]
    journal.finish(conn, "r1", "succeeded", "done")
    journal.begin(conn, _rollout("r2", "2026-01-01T00:00:00Z"))  # same start: insertion decides
    assert journal.get(conn, "r1").status == "succeeded"
    assert journal.get(conn, "r1").reason == "done"
    assert [r.id for r in journal.history(conn)] == ["r2", "r1"]
    assert [r.id for r in journal.history(conn, "staging", "web", limit=1)] == ["r2"]
    assert journal.history(conn, "prod") == []
    assert [(s["seq"], s["action"], s["detail"]) for s in journal.steps(conn, "r1")] == [
        (1, "StartGreen", {"n": 2}), (2, "SetWeights", {"green": 10})]


def test_patches_round_trip(conn):
    first = patches.record(conn, patches.PatchRecord("run1", "web", "patched", "t1", "1.0.0", "a" * 64,
                                                     "1.0.0+patch.1", "b" * 64,
                                                     [{"name": "curl", "old": "1", "new": "2"}],
                                                     {"passed": True}, [{"env": "staging"}]))
    second = patches.record(conn, patches.PatchRecord("run2", "web", "up to date", "t2"))
    assert second > first
    web = patches.history(conn, "web")
    assert [p.run_id for p in web] == ["run2", "run1"]
    assert web[1].changes == [{"name": "curl", "old": "1", "new": "2"}]
    assert web[1].rollout == [{"env": "staging"}] and web[0].verification is None
    assert patches.versions(conn, "web") == ["1.0.0+patch.1"]


def test_migrations_are_recorded_once(store_url):
    c = connect(store_url)
    try:
        assert schema_version(c) == migrations.LATEST
        rows = c.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        assert [r["version"] for r in rows] == [m.version for m in migrations.MIGRATIONS]
    finally:
        c.close()
    again = connect(store_url)  # a second connect applies nothing
    try:
        assert again.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == migrations.LATEST
    finally:
        again.close()


def test_a_newer_schema_is_refused(store_url):
    c = connect(store_url)
    c.execute("INSERT INTO schema_migrations (version, name, applied) VALUES (?,?,?)",
              (migrations.LATEST + 1, "from the future", "t"))
    c.close()
    with pytest.raises(StoreError, match=rf"schema version {migrations.LATEST + 1}, newer than this "
                                         rf"bakery knows \(up to {migrations.LATEST}\)"):
        connect(store_url)


def test_driver_errors_become_store_errors(conn):
    with pytest.raises(StoreError):
        conn.execute("SELECT * FROM no_such_table")
    # The connection stays usable after a failed statement (autocommit on both).
    assert conn.execute("SELECT COUNT(*) FROM builds").fetchone()[0] == 0


def test_transactions_roll_back_on_error(conn):
    with pytest.raises(RuntimeError), conn.transaction():
        journal.begin(conn, _rollout("gone", "t"))
        raise RuntimeError("boom")
    assert journal.get(conn, "gone") is None


def test_placeholders_translate_for_psycopg():
    assert _pg_sql("SELECT * FROM t WHERE a = ? AND b LIKE 'x%'") == \
        "SELECT * FROM t WHERE a = %s AND b LIKE 'x%%'"
    row = Row(a=1, b="two")
    assert row[0] == 1 and row["b"] == "two" and list(row.keys()) == ["a", "b"]


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="cannot reach the state server"):
        connect(f"postgresql:///nothing?host={tmp_path}&user=nobody")
