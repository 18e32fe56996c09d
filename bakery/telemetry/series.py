"""From recorded rows to what a report draws: per-colour timelines and the marks on them. Pure.

HAProxy's counters are cumulative, so rates come from differences between consecutive samples;
a counter that goes down (the balancer restarted) leaves a gap rather than a negative rate. The
error rate is taken over a short sliding window, because one second of canary traffic at 10% is
often a handful of requests. HAProxy only gives an average response time per server; the p99 of
each analysis step (from the probes) comes with its verdict and is drawn as a mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bakery.store.samples import Sample

COLOURS = ("blue", "green")


@dataclass
class ColourSeries:
    """One colour's timeline; ``None`` where there is nothing to say (no traffic, a gap)."""

    t: list[float] = field(default_factory=list)
    share_pct: list[float] = field(default_factory=list)  # of the total weight in rotation
    rps: list[float | None] = field(default_factory=list)
    error_rate: list[float | None] = field(default_factory=list)  # 0..1, over the window
    rtime_ms: list[float | None] = field(default_factory=list)
    servers_up: list[int] = field(default_factory=list)


@dataclass
class Timeline:
    colours: dict[str, ColourSeries]
    events: list[Sample]
    verdicts: list[dict[str, Any]]  # verdict data plus its time "t"
    weights: list[dict[str, Any]]  # weights data plus "t"
    thresholds: dict[str, float]
    start: dict[str, Any]
    done: dict[str, Any] | None
    plan: dict[str, Any] | None
    duration: float

    @property
    def failed_step(self) -> dict[str, Any] | None:
        """The first verdict that failed: where the canary crossed a threshold."""
        return next((v for v in self.verdicts if v.get("outcome") == "fail"), None)


def _colour_of(name: str) -> str | None:
    for c in COLOURS:
        if name.startswith(c) and name[len(c):].isdigit():
            return c
    return None


def _in_rotation(row: dict[str, Any]) -> bool:
    status = str(row.get("status", ""))
    return (status.startswith("UP") or status == "no check") and "MAINT" not in status


def _totals(servers: dict[str, dict[str, Any]], colour: str) -> dict[str, float]:
    rows = [r for name, r in servers.items() if _colour_of(name) == colour]
    live = [r for r in rows if _in_rotation(r)]
    rtimes = [r["rtime_ms"] for r in live if r.get("responses")]
    return {"weight": sum(r["weight"] for r in live), "responses": sum(r["responses"] for r in rows),
            "errors": sum(r["hrsp_5xx"] + r.get("conn_errors", 0) for r in rows),
            "rtime": sum(rtimes) / len(rtimes) if rtimes else 0.0, "up": len(live), "known": len(rows)}


def colour_series(lb: list[Sample], window: int = 5) -> dict[str, ColourSeries]:
    """Per colour: share of weight, req/s, error rate over the last ``window`` intervals, avg rtime."""
    out: dict[str, ColourSeries] = {}
    totals = [(s.t, {c: _totals(s.data.get("servers", {}), c) for c in COLOURS}) for s in lb]
    for colour in COLOURS:
        if not any(tot[colour]["known"] for _, tot in totals):
            continue
        series = ColourSeries()
        deltas: list[tuple[float, float] | None] = []  # (responses, errors) per interval
        prev: tuple[float, dict[str, float]] | None = None
        for t, tot in totals:
            all_weight = sum(tot[c]["weight"] for c in COLOURS)
            mine = tot[colour]
            series.t.append(t)
            series.share_pct.append(100.0 * mine["weight"] / all_weight if all_weight else 0.0)
            series.servers_up.append(int(mine["up"]))
            rps = None
            if prev is not None:
                dt = t - prev[0]
                d_req = mine["responses"] - prev[1][colour]["responses"]
                d_err = mine["errors"] - prev[1][colour]["errors"]
                if dt > 0 and d_req >= 0 and d_err >= 0:
                    rps = d_req / dt
                    deltas.append((d_req, d_err))
                else:
                    deltas.append(None)  # a reset counter: a gap, never a negative rate
            series.rps.append(rps)
            recent = [d for d in deltas[-window:] if d is not None]
            req = sum(d[0] for d in recent)
            series.error_rate.append(sum(d[1] for d in recent) / req if req else None)
            series.rtime_ms.append(mine["rtime"] if rps else None)
            prev = (t, tot)
        out[colour] = series
    return out


def timeline(rows: list[Sample], window: int = 5) -> Timeline:
    lb = [s for s in rows if s.kind == "lb"]
    events = [s for s in rows if s.kind != "lb"]
    verdicts = [{**s.data, "t": s.t} for s in events if s.kind == "verdict"]
    weights = [{**s.data, "t": s.t} for s in events if s.kind == "weights"]
    start = next((s.data for s in events if s.kind == "start"), {})
    done = next((s.data for s in reversed(events) if s.kind == "done"), None)
    plan = next((s.data for s in events if s.kind == "plan"), None)
    thresholds: dict[str, float] = {}
    for v in verdicts:
        for key in ("max_error_rate", "max_p99_ms", "min_requests"):
            if key in v:
                thresholds[key] = v[key]
    if not thresholds:
        recorded = next((s.data for s in events if s.kind == "thresholds"), None)
        thresholds = dict(recorded or {})
    return Timeline(colour_series(lb, window), events, verdicts, weights, thresholds, start, done, plan,
                    duration=max((s.t for s in rows), default=0.0))


def step_label(v: dict[str, Any]) -> str:
    """The numbers of one verdict, as drawn next to its mark."""
    text = (f"step {v.get('step')} at {v.get('weight')}%: {str(v.get('outcome', '?')).upper()} · "
            f"errors {float(v.get('error_rate', 0.0)):.1%}")
    if "max_error_rate" in v:
        text += f" (max {float(v['max_error_rate']):.1%})"
    text += f" · p99 {float(v.get('p99_ms', 0.0)):.0f}ms"
    if "max_p99_ms" in v:
        text += f" (max {float(v['max_p99_ms']):g}ms)"
    return text + f" · {v.get('samples', 0)} samples"
