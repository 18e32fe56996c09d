"""Canary analysis: error rate and p99 latency against the definition's thresholds. Pure.

Samples come from two places: HAProxy's per-server counters for the canary (real traffic,
delta over the step) and active httpx probes sent straight to the canary containers.
Fewer samples than ``min_requests`` is 'inconclusive', which never counts as a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bakery.definitions.rollout import Analysis


@dataclass(frozen=True)
class Observation:
    lb_requests: int = 0  # responses HAProxy got from the canary during the step
    lb_errors: int = 0  # of which 5xx
    lb_avg_ms: float = 0.0  # HAProxy's average response time for the canary
    probe_latencies_ms: tuple[float, ...] = ()
    probe_errors: int = 0  # 5xx or connection errors among the probes


@dataclass(frozen=True)
class Result:
    outcome: str  # pass | fail | inconclusive
    samples: int
    errors: int
    error_rate: float
    p99_ms: float
    thresholds: Analysis
    reasons: tuple[str, ...]

    def summary(self) -> str:
        t = self.thresholds
        return (f"{self.samples} samples (min {t.min_requests}), error rate {self.error_rate:.2%} "
                f"(max {t.max_error_rate:.2%}), p99 {self.p99_ms:.0f}ms (max {t.max_p99_ms:g}ms)"
                + (f"; {'; '.join(self.reasons)}" if self.reasons else ""))

    def as_dict(self) -> dict:
        return {"outcome": self.outcome, "samples": self.samples, "errors": self.errors,
                "error_rate": round(self.error_rate, 5), "p99_ms": round(self.p99_ms, 1),
                "max_error_rate": self.thresholds.max_error_rate,
                "max_p99_ms": self.thresholds.max_p99_ms, "min_requests": self.thresholds.min_requests,
                "reasons": list(self.reasons)}


def percentile(values: tuple[float, ...] | list[float], q: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def budget_spent(obs: Observation, thresholds: Analysis) -> bool:
    """Whether the step has already failed, before its pause ends: the minimum sample is reached
    and the error rate is over budget. More samples could not bring it back under before the
    step would judge anyway, and every further second costs the canary's clients errors."""
    samples = obs.lb_requests + len(obs.probe_latencies_ms)
    errors = obs.lb_errors + obs.probe_errors
    return samples >= thresholds.min_requests and errors / samples > thresholds.max_error_rate


def judge(obs: Observation, thresholds: Analysis) -> Result:
    samples = obs.lb_requests + len(obs.probe_latencies_ms)
    errors = obs.lb_errors + obs.probe_errors
    rate = errors / samples if samples else 0.0
    # p99 from the probes; HAProxy only gives an average, which bounds p99 from below.
    p99 = max(percentile(obs.probe_latencies_ms, 99), obs.lb_avg_ms)
    reasons = []
    if rate > thresholds.max_error_rate:
        reasons.append(f"error rate {rate:.2%} > {thresholds.max_error_rate:.2%}")
    if p99 > thresholds.max_p99_ms:
        reasons.append(f"p99 {p99:.0f}ms > {thresholds.max_p99_ms:g}ms")
    if reasons:
        outcome = "fail"  # a clear failure is a failure even on few samples
    elif samples < thresholds.min_requests:
        outcome = "inconclusive"
        reasons.append(f"only {samples} samples, need {thresholds.min_requests}")
    else:
        outcome = "pass"
    return Result(outcome, samples, errors, rate, p99, thresholds, tuple(reasons))
