"""One canary step's evidence: probes sent straight to the canary's members during the pause,
and the balancer's per-server counters over the step, judged by ``analysis.judge`` (pure).

The probe is injectable (``Probe``) so the core can be driven without real members in unit tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from bakery.balancer import commands as cmd
from bakery.definitions.rollout import RolloutDefinition
from bakery.errors import BalancerError
from bakery.model.fleet import Fleet
from bakery.rollout.analysis import Observation, Result, budget_spent, judge
from bakery.rollout.ports import Balancer, Sink
from bakery.rollout.traffic import server_rows

Probe = Callable[[str, int, float], tuple[bool, float]]
"""``probe(host, port, timeout) -> (ok, milliseconds)``: one request to one member."""


def http_probe(client: httpx.Client) -> Probe:
    def probe(host: str, port: int, timeout: float) -> tuple[bool, float]:
        t0 = time.monotonic()
        try:
            ok = client.get(f"http://{host}:{port}/", timeout=timeout).status_code < 500
        except httpx.HTTPError:
            ok = False
        return ok, (time.monotonic() - t0) * 1000
    return probe


def analyse_step(lb: Balancer, green: Fleet, step: int, weight: int, pause: float, defn: RolloutDefinition,
                 emit: Sink, probe: Probe | None = None) -> tuple[Result, dict[str, Any]]:
    """Probe the canary evenly over ``pause`` and judge probes and balancer counters together.
    The evidence is judged continuously: once the error budget is spent with the minimum sample
    reached, the step ends at once (a clearly bad canary costs a fraction of its pause)."""
    a = defn.analysis
    names = [cmd.server_name(green.colour, mb.index) for mb in green.members]
    before = lb.stats()
    counters = (0, 0, 0.0)  # balancer requests, 5xx and average response time since `before`
    latencies: list[float] = []
    errors = 0
    started = time.monotonic()
    deadline = started + pause
    gap = pause / a.probes if a.probes else pause
    next_tick = started + 1.0

    def observed() -> Observation:
        return Observation(counters[0], counters[1], counters[2], tuple(latencies), errors)

    def refresh() -> None:
        nonlocal counters
        try:
            now = lb.stats()
        except BalancerError:
            return
        counters = _delta(before, now, names)
        emit("tick", {"step": step + 1, "weight": weight, "probes": len(latencies), "probe_errors": errors,
                      "servers": server_rows(now)})

    spent = False
    with httpx.Client() as client:
        send = probe or http_probe(client)
        for i in range(a.probes):
            host, port = green.members[i % len(green.members)].address(defn.port)
            ok, ms = send(host, port, defn.health.timeout)
            errors += 0 if ok else 1
            latencies.append(ms)
            if time.monotonic() >= next_tick:
                next_tick += 1.0
                refresh()
            if spent := budget_spent(observed(), a):
                break
            wait = started + gap * (i + 1) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
    while not spent and time.monotonic() < deadline:
        time.sleep(min(1.0, deadline - time.monotonic()))
        refresh()
        spent = budget_spent(observed(), a)
    counters = _delta(before, lb.stats(), names)
    result = judge(observed(), a)
    record = {"step": step + 1, "weight": weight, "lb_requests": counters[0], "lb_errors": counters[1],
              "probes": len(latencies), "probe_errors": errors, **result.as_dict(),
              "summary": result.summary(), "seconds": round(time.monotonic() - started, 3),
              "stopped_early": spent and time.monotonic() < deadline}
    return result, record


def _delta(before: dict[str, cmd.ServerStat], after: dict[str, cmd.ServerStat],
           names: list[str]) -> tuple[int, int, float]:
    both = [n for n in names if n in after and n in before]
    rtimes = [after[n].rtime_ms for n in names if n in after]
    return (sum(after[n].responses - before[n].responses for n in both),
            sum(after[n].hrsp_5xx - before[n].hrsp_5xx for n in both),
            sum(rtimes) / len(rtimes) if rtimes else 0.0)


