"""Patch records in the real SQLite store."""

from __future__ import annotations

from pathlib import Path

from bakery.store import patches
from bakery.store.db import connect


def test_patch_records_round_trip_newest_first(tmp_path: Path) -> None:
    conn = connect(tmp_path / "state.db")
    try:
        patches.record(conn, patches.PatchRecord(
            run_id="r1", name="web", status="patched", created="2026-01-01T00:00:00Z",
            old_version="1.0.0", old_fingerprint="a" * 64, new_version="1.0.0+patch.1",
            new_fingerprint="b" * 64, changes=[{"name": "curl", "old": "1", "new": "2"}],
            verification={"passed": True, "fingerprint": "b" * 64}))
        patches.record(conn, patches.PatchRecord(
            run_id="r2", name="web", status="up to date", created="2026-01-02T00:00:00Z",
            old_version="1.0.0+patch.1", old_fingerprint="b" * 64))
        patches.record(conn, patches.PatchRecord(
            run_id="r2", name="lb", status="failed", created="2026-01-02T00:00:00Z",
            error="no build of lb 1.0.0 to patch"))
        web = patches.history(conn, "web")
        assert [h.status for h in web] == ["up to date", "patched"]
        assert web[0].new_version is None and web[0].verification is None
        assert web[1].changes == [{"name": "curl", "old": "1", "new": "2"}]
        assert web[1].verification == {"passed": True, "fingerprint": "b" * 64}
        assert [h.name for h in patches.history(conn)] == ["lb", "web", "web"]
        assert patches.versions(conn, "web") == ["1.0.0+patch.1"]
    finally:
        conn.close()
