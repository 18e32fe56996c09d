"""Canary verdicts against thresholds."""

import pytest

from bakery.definitions.rollout import Analysis
from bakery.rollout.analysis import Observation, budget_spent, judge, percentile

T = Analysis(max_error_rate=0.01, max_p99_ms=500, min_requests=20, probes=10)


def test_percentile_nearest_rank():
    assert percentile([], 99) == 0.0
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([5.0], 99) == 5.0


@pytest.mark.parametrize("obs, outcome", [
    (Observation(100, 0, 4.0, (10.0,) * 10, 0), "pass"),
    (Observation(100, 30, 4.0, (10.0,) * 10, 3), "fail"),  # error rate
    (Observation(100, 0, 4.0, (10.0,) * 9 + (900.0,), 0), "fail"),  # p99 from probes
    (Observation(100, 0, 700.0, (), 0), "fail"),  # HAProxy's average already above p99 limit
    (Observation(5, 0, 1.0, (10.0,) * 5, 0), "inconclusive"),  # 10 samples < 20
    (Observation(0, 0, 0.0, (), 0), "inconclusive"),
])
def test_verdicts(obs, outcome):
    assert judge(obs, T).outcome == outcome


def test_summary_shows_numbers_and_thresholds():
    result = judge(Observation(90, 3, 2.0, (10.0,) * 10, 1), T)
    text = result.summary()
    assert "100 samples (min 20)" in text and "error rate 4.00% (max 1.00%)" in text
    assert "max 500ms" in text
    assert result.as_dict()["errors"] == 4


def test_the_budget_is_spent_only_with_the_minimum_sample_and_too_many_errors():
    t = Analysis(max_error_rate=0.01, max_p99_ms=500, min_requests=20, probes=40)
    assert not budget_spent(Observation(probe_latencies_ms=(1.0,) * 19, probe_errors=19), t)
    assert budget_spent(Observation(probe_latencies_ms=(1.0,) * 20, probe_errors=1), t)
    assert not budget_spent(Observation(lb_requests=200, lb_errors=2, probe_latencies_ms=(1.0,) * 20), t)
