"""The report from synthetic samples: a self-contained page whose chart marks the failed step with
its numbers, the thresholds as lines, the plan, the versions and fingerprints; and the PNG."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.image
import pytest
from click.testing import CliRunner

from bakery.report import write
from bakery.report.figure import build
from bakery.store import journal, samples
from bakery.store.db import connect
from bakery.store.samples import Sample
from bakery.telemetry import StoredRollout
from bakery.telemetry.series import timeline

FP_NEW, FP_OLD = "a1b2c3d4e5f6" + "0" * 52, "0f0e0d0c0b0a" + "1" * 52


def row(rid: str, status: str, prev: str | None) -> journal.RolloutRow:
    return journal.RolloutRow(
        id=rid, env="staging", service="web", kind="rollout", strategy="canary" if prev else "blue-green",
        image_name="web-bad" if prev else "web", version="1.0.0", fingerprint=FP_NEW if prev else FP_OLD,
        colour="green" if prev else "blue", prev_id=prev, prev_version="1.0.0" if prev else None,
        prev_colour="blue" if prev else None, status=status, started="2026-12-01T02:00:00.000000Z",
        finished="2026-12-01T02:00:14.500000Z", reason="canary analysis failed at step 2" if prev else "")


def failing_canary() -> list[Sample]:
    """A canary at 10% then 50%, the new fleet answering 30% of its requests with 500."""
    rows: list[Sample] = [Sample(1, 0.0, "plan", {"strategy": "canary", "expected_seconds": 14, "steps": [
        {"what": "start green", "green_weight": None}, {"what": "canary step 1", "green_weight": 10},
        {"what": "canary step 2", "green_weight": 50}]}),
        Sample(2, 0.0, "start", {"rollout_id": "r-bad", "colour": "green", "version": "web-bad 1.0.0",
                                 "strategy": "canary", "live": "1.0.0"})]
    blue = green = green_err = 0
    for t in range(15):
        share = 0 if t < 3 else 10 if t < 8 else 50 if t < 13 else 0
        blue += 100 - share
        green += share
        green_err += share * 3 // 10
        rows.append(Sample(0, float(t), "lb", {"servers": {
            "blue1": {"status": "UP", "weight": 2 * (100 - share), "responses": blue, "hrsp_5xx": 0,
                      "rtime_ms": 2},
            "green1": {"status": "UP", "weight": 2 * share, "responses": green, "hrsp_5xx": green_err,
                       "rtime_ms": 3}}}))
        if t in (3, 8, 13):
            rows.append(Sample(0, t + 0.1, "weights", {"green_percent": share, "colour": "green"}))
    limits = {"max_error_rate": 0.01, "max_p99_ms": 500, "min_requests": 20}
    rows.append(Sample(0, 7.9, "verdict", {"step": 1, "weight": 10, "outcome": "pass", "error_rate": 0.0,
                                           "p99_ms": 8.0, "samples": 45, "errors": 0, **limits}))
    rows.append(Sample(0, 12.9, "verdict", {"step": 2, "weight": 50, "outcome": "fail", "error_rate": 0.3,
                                            "p99_ms": 9.0, "samples": 250, "errors": 75, "lb_requests": 220,
                                            "lb_errors": 66, "reasons": ["error rate 30.00% > 1.00%"],
                                            **limits}))
    rows.append(Sample(0, 14.5, "done", {"status": "failed", "reason": "canary analysis failed at step 2"}))
    return sorted(rows, key=lambda s: s.t)


def stored() -> StoredRollout:
    steps = [{"seq": 1, "at": "2026-12-01T02:00:00.100000Z", "phase": "green-starting",
              "action": "StartGreen", "detail": {}},
             {"seq": 2, "at": "2026-12-01T02:00:03.000000Z", "phase": "canary", "action": "SetWeights",
              "detail": {"green": 10}}]
    return StoredRollout(row("r-bad", "failed", "r-good"), row("r-good", "succeeded", None), steps,
                         failing_canary())


def test_the_chart_marks_the_failed_step_and_the_thresholds() -> None:
    tl = timeline(stored().samples)
    fig = build(tl, "web@staging")
    texts = [a.text for a in fig.layout.annotations]
    failed = "step 2 at 50%: FAIL · errors 30.0% (max 1.0%) · p99 9ms (max 500ms) · 250 samples"
    assert failed in texts
    assert "max error rate 1.0%" in texts and "max p99 500 ms" in texts
    assert {t.name for t in fig.data} >= {"blue", "green", "verdict (error rate over the step)"}
    green_errors = next(t for t in fig.data if t.name == "green" and t.yaxis == "y3")
    assert max(v for v in green_errors.y if v is not None) == pytest.approx(30.0, abs=1.5)


def test_the_page_is_self_contained_and_says_what_ran(tmp_path: Path) -> None:
    written = write(stored(), tmp_path / "reports" / "r-bad.html")
    page = written.html.read_text()
    assert not re.search(r"<script[^>]+src=", page) and "cdn.plot.ly" not in page.split("</script>")[-1]
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js itself is inline
    for text in ("The canary failed at step 2", "error rate 30.00% &gt; 1.00%", "fp-a1b2c3d4e5f6",
                 "fp-0f0e0d0c0b0a", "web-bad 1.0.0", "canary analysis failed at step 2", "StartGreen",
                 "canary step 2 → new fleet at 50%", "bakery report r-bad --env staging", "r-bad.png"):
        assert text in page, text
    image = matplotlib.image.imread(written.png)
    assert image.shape[0] > 500 and image.shape[1] > 800
    assert (image[..., :3] < 0.9).any(axis=-1).mean() > 0.02  # lines and text drawn, not a blank canvas


def test_a_rollout_without_samples_still_gets_a_page(tmp_path: Path) -> None:
    bare = StoredRollout(row("r-good", "succeeded", None), None, [], [])
    page = write(bare, tmp_path / "r.html", png=False).html.read_text()
    assert "no load-balancer samples were recorded" in page and "no canary analysis" in page


def test_the_command_finds_a_service_s_newest_rollout(project, monkeypatch) -> None:  # noqa: ANN001
    import bakery.cli.report  # noqa: F401 - registers `bakery report` until bakery.cli lists it
    from bakery.cli import main

    conn = connect(project.db_path)
    journal.begin(conn, row("r-good", "succeeded", None))
    journal.begin(conn, row("r-bad", "failed", "r-good"))
    samples.append(conn, "r-bad", [(s.t, s.kind, s.data) for s in failing_canary()])
    conn.close()
    runner = CliRunner()
    result = runner.invoke(main, ["--project", str(project.root), "report", "web", "--env", "staging",
                                  "--no-png"])
    assert result.exit_code == 0, result.output
    assert (project.state_dir / "reports" / "r-bad.html").is_file()
    bad = runner.invoke(main, ["--project", str(project.root), "report", "web", "--env", "nowhere"])
    assert bad.exit_code == 2 and "no rollout id or service 'web' with rollouts in nowhere" in bad.output
    wrong = runner.invoke(main, ["--project", str(project.root), "report", "r-bad", "-o", "x.txt"])
    assert wrong.exit_code == 2 and "name it *.html" in wrong.output


def test_after_a_rollout_the_report_is_written_or_quietly_skipped(project) -> None:  # noqa: ANN001
    from bakery.cli.report import write_after_rollout

    conn = connect(project.db_path)
    journal.begin(conn, row("r-good", "succeeded", None))
    conn.close()
    path = write_after_rollout(project, "r-good")
    assert path == project.state_dir / "reports" / "r-good.html" and path.is_file()
    assert write_after_rollout(project, "no-such-rollout") is None
    assert write_after_rollout(project, None) is None


def test_only_the_newest_reports_are_kept(tmp_path: Path) -> None:
    import os

    from bakery.cli.report import prune

    for i in range(5):
        for suffix in (".html", ".png"):
            (tmp_path / f"r{i}{suffix}").write_text("x")
            os.utime(tmp_path / f"r{i}{suffix}", (1000 + i, 1000 + i))
    assert [p.name for p in prune(tmp_path, keep=3)] == ["r1.html", "r0.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r2.html", "r2.png", "r3.html", "r3.png",
                                                          "r4.html", "r4.png"]
