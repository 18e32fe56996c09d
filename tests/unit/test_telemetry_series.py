"""Timelines from raw HAProxy counters: rates from differences, gaps on resets, windowed errors."""

from __future__ import annotations

from bakery.store.samples import Sample
from bakery.telemetry.series import colour_series, step_label, timeline


def srv(weight: int, responses: int, errors: int = 0, status: str = "UP", rtime: int = 3) -> dict:
    return {"status": status, "weight": weight, "sessions": 0, "responses": responses,
            "hrsp_2xx": responses - errors, "hrsp_5xx": errors, "hrsp_other": 0, "rtime_ms": rtime,
            "check": "L7OK", "addr": "10.0.0.2:8080"}


def lb(t: float, servers: dict) -> Sample:
    return Sample(0, t, "lb", {"servers": servers})


def test_rates_share_and_error_rate_per_colour() -> None:
    rows = [
        lb(0, {"blue1": srv(100, 0), "green1": srv(0, 0)}),
        lb(1, {"blue1": srv(90, 90), "green1": srv(10, 10)}),
        lb(2, {"blue1": srv(90, 180), "green1": srv(10, 20, errors=5)}),
        lb(4, {"blue1": srv(90, 360), "green1": srv(10, 40, errors=5)}),
    ]
    s = colour_series(rows, window=5)
    assert s["blue"].share_pct == [100.0, 90.0, 90.0, 90.0]
    assert s["green"].share_pct == [0.0, 10.0, 10.0, 10.0]
    assert s["blue"].rps == [None, 90.0, 90.0, 90.0]
    assert s["green"].rps == [None, 10.0, 10.0, 10.0]
    assert s["green"].error_rate == [None, 0.0, 5 / 20, 5 / 40]  # over the window, not one interval
    assert s["blue"].error_rate[-1] == 0.0
    assert s["green"].rtime_ms == [None, 3, 3, 3]


def test_a_reset_counter_is_a_gap_not_a_negative_rate() -> None:
    rows = [lb(0, {"blue1": srv(100, 500)}), lb(1, {"blue1": srv(100, 10)}), lb(2, {"blue1": srv(100, 40)})]
    s = colour_series(rows)["blue"]
    assert s.rps == [None, None, 30.0]


def test_servers_out_of_rotation_carry_no_share() -> None:
    rows = [lb(0, {"blue1": srv(100, 0, status="MAINT"), "green1": srv(100, 0), "green2": srv(100, 0,
                                                                                             status="DOWN")})]
    s = colour_series(rows)
    assert s["blue"].share_pct == [0.0] and s["green"].share_pct == [100.0]
    assert s["green"].servers_up == [1]


def test_timeline_marks_thresholds_and_the_failed_step() -> None:
    verdict = {"step": 2, "weight": 50, "outcome": "fail", "error_rate": 0.3, "p99_ms": 12.0,
               "max_error_rate": 0.01, "max_p99_ms": 500, "min_requests": 20, "samples": 60}
    rows = [Sample(1, 0.0, "start", {"rollout_id": "r"}), lb(1, {"green1": srv(10, 10)}),
            Sample(3, 2.0, "weights", {"green_percent": 10, "colour": "green"}),
            Sample(4, 5.0, "verdict", {**verdict, "step": 1, "outcome": "pass", "error_rate": 0.0}),
            Sample(5, 9.0, "verdict", verdict), Sample(6, 9.5, "done", {"status": "failed"})]
    tl = timeline(rows)
    assert tl.thresholds == {"max_error_rate": 0.01, "max_p99_ms": 500, "min_requests": 20}
    assert tl.failed_step is not None and tl.failed_step["step"] == 2 and tl.failed_step["t"] == 9.0
    assert tl.weights[0]["t"] == 2.0 and tl.done == {"status": "failed"} and tl.duration == 9.5
    assert step_label(tl.failed_step) == ("step 2 at 50%: FAIL · errors 30.0% (max 1.0%) · p99 12ms "
                                          "(max 500ms) · 60 samples")


def test_thresholds_recorded_at_start_serve_a_rollout_without_verdicts() -> None:
    tl = timeline([Sample(1, 0.0, "thresholds", {"max_error_rate": 0.05})])
    assert tl.thresholds == {"max_error_rate": 0.05} and tl.failed_step is None and tl.colours == {}
