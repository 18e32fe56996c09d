"""The samples table: appended in order, thinned evenly when a rollout runs long, kept per rollout."""

from __future__ import annotations

from pathlib import Path

from bakery.store import journal, samples
from bakery.store.db import connect


def _rollout(conn, rid: str) -> None:  # noqa: ANN001 - sqlite3 connection
    journal.begin(conn, journal.RolloutRow(
        id=rid, env="staging", service="web", kind="rollout", strategy="canary", image_name="web",
        version="1.1.0", fingerprint="f" * 64, colour="green", prev_id=None, prev_version=None,
        prev_colour=None, status="running", started=journal.now(), finished=None, reason=""))


def test_append_load_thin(tmp_path: Path) -> None:
    conn = connect(tmp_path / "state.db")
    _rollout(conn, "r1")
    _rollout(conn, "r2")
    samples.append(conn, "r1", [(0.0, "start", {"rollout_id": "r1"})])
    samples.append(conn, "r1", [(float(i), "lb", {"i": i}) for i in range(1, 11)])
    samples.append(conn, "r1", [(10.5, "verdict", {"step": 1})])
    samples.append(conn, "r2", [(0.0, "lb", {"i": 0})])
    rows = samples.load(conn, "r1")
    assert [r.seq for r in rows] == list(range(1, 13))
    assert rows[0].kind == "start" and rows[-1].data == {"step": 1}
    assert samples.count(conn, "r1") == 10

    removed = samples.thin(conn, "r1")
    kept = [r.data["i"] for r in samples.load(conn, "r1") if r.kind == "lb"]
    assert removed == 4 and kept == [1, 3, 5, 7, 9, 10]  # first and last stay, the rest halves
    assert {r.kind for r in samples.load(conn, "r1")} == {"start", "lb", "verdict"}  # events stay
    assert samples.recorded(conn, ["r1", "r2", "r3"]) == {"r1", "r2"}
    assert len(samples.load(conn, "r2")) == 1
    conn.close()
