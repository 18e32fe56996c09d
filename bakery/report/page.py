"""One self-contained HTML page per rollout: what ran, what it looked like, how it ended.

Scripts and styles are inline (plotly's JS included), so the file opens anywhere without a
network: attached to a ticket, copied off a build machine, opened at 02:00 from a phone.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape

from bakery.telemetry.series import Timeline, step_label
from bakery.telemetry.stored import StoredRollout

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.outcome { display: inline-block; padding: 2px 10px; border-radius: 10px; color: white; font-weight: 600; }
.succeeded { background: #2ca02c; } .failed { background: #d62728; } .other { background: #ff7f0e; }
table { border-collapse: collapse; }
td, th { padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: #555; font-weight: 600; } .mono { font-family: ui-monospace, monospace; font-size: 12px; }
tr.fail td { color: #d62728; } tr.pass td { color: #2a7a2a; }
.muted { color: #777; } .steps td { border-top: 1px solid #eee; }
"""


def _time(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") + " UTC" if stamp else "—"


def _seconds(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "—"
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    try:
        return f"{(datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds():.1f}s"
    except ValueError:
        return "—"


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)


def summary(stored: StoredRollout) -> str:
    r, prev = stored.row, stored.previous
    status_class = r.status if r.status in ("succeeded", "failed") else "other"
    target = (
        f"{escape(r.image_name)} {escape(r.version)} <span class=mono>fp-{escape(r.fingerprint[:12])}</span>"
    )
    before = "nothing (first rollout)"
    if r.prev_version:
        before = f"{escape(r.prev_version)} ({escape(r.prev_colour or '')})"
        if prev is not None:
            before += f" <span class=mono>fp-{escape(prev.fingerprint[:12])}</span> rollout {escape(prev.id)}"
    return (
        "<table>"
        + _rows(
            [
                (
                    "outcome",
                    f"<span class='outcome {status_class}'>{escape(r.status)}</span> {escape(r.reason)}",
                ),
                ("what", f"{escape(r.kind)} · {escape(r.strategy)} · to {escape(r.colour)}"),
                ("new image", target),
                ("previous", before),
                ("started", _time(r.started)),
                ("finished", _time(r.finished)),
                ("took", _seconds(r.started, r.finished)),
                ("rollout id", f"<span class=mono>{escape(r.id)}</span>"),
            ]
        )
        + "</table>"
    )


def verdict_table(tl: Timeline) -> str:
    if not tl.verdicts:
        return "<p class=muted>no canary analysis in this rollout</p>"
    head = (
        "<tr><th>#</th><th>at</th><th>weight</th><th>outcome</th><th>samples</th><th>errors</th>"
        "<th>error rate</th><th>p99</th><th>HAProxy</th><th>probes</th><th>why</th></tr>"
    )
    rows = []
    for v in tl.verdicts:
        rate = f"{float(v.get('error_rate', 0)):.2%}"
        if "max_error_rate" in v:
            rate += f" (max {float(v['max_error_rate']):.2%})"
        p99 = f"{float(v.get('p99_ms', 0)):.0f} ms"
        if "max_p99_ms" in v:
            p99 += f" (max {float(v['max_p99_ms']):g})"
        rows.append(
            f"<tr class='{escape(str(v.get('outcome')))}'><td>{escape(str(v.get('step')))}</td>"
            f"<td>t+{float(v['t']):.0f}s</td><td>{escape(str(v.get('weight')))}%</td>"
            f"<td><b>{escape(str(v.get('outcome')))}</b></td><td>{escape(str(v.get('samples', '')))}</td>"
            f"<td>{escape(str(v.get('errors', '')))}</td><td>{rate}</td><td>{p99}</td>"
            f"<td>{escape(str(v.get('lb_requests', '')))} req, {escape(str(v.get('lb_errors', '')))} 5xx</td>"
            f"<td>{escape(str(v.get('probes', '')))}, {escape(str(v.get('probe_errors', '')))} errors</td>"
            f"<td>{escape('; '.join(v.get('reasons', [])))}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def plan_section(stored: StoredRollout, tl: Timeline) -> str:
    parts = []
    if tl.plan:
        steps = tl.plan.get("steps", [])
        items = "".join(
            f"<li>{escape(str(s.get('what', s)))}"
            + (f" → new fleet at {s['green_weight']}%" if s.get("green_weight") is not None else "")
            + "</li>"
            for s in steps
        )
        parts.append(
            f"<p>as planned ({escape(str(tl.plan.get('strategy', '')))}, about "
            f"{escape(str(tl.plan.get('expected_seconds', '?')))}s):</p><ol>{items}</ol>"
        )
    if stored.steps:
        started = stored.row.started
        rows = "".join(
            f"<tr><td class=mono>{escape(s['at'][11:23])}</td>"
            f"<td class=muted>+{_seconds(started, s['at'])}</td>"
            f"<td>{escape(s['phase'])}</td><td>{escape(s['action'])}</td>"
            f"<td class=mono>{escape(json.dumps(s['detail'], sort_keys=True))}</td></tr>"
            for s in stored.steps
        )
        parts.append(
            f"<p>as it ran (the journal, each step written before it acted):</p>"
            f"<table class=steps>{rows}</table>"
        )
    return "".join(parts) or "<p class=muted>no steps journaled</p>"


def notes(tl: Timeline) -> str:
    lines = []
    for e in tl.events:
        if e.kind in ("info", "warn", "health", "done"):
            text = (
                e.data.get("text")
                or e.data.get("reason")
                or ", ".join(f"{m.get('name')} {m.get('health')}" for m in e.data.get("members", []))
            )
            lines.append(
                f"<tr><td class=muted>t+{e.t:.0f}s</td><td>{escape(e.kind)}</td>"
                f"<td>{escape(str(text))}</td></tr>"
            )
    return f"<table>{''.join(lines)}</table>" if lines else "<p class=muted>no events recorded</p>"


def render(stored: StoredRollout, tl: Timeline, chart_html: str, png_name: str | None) -> str:
    r = stored.row
    title = f"{r.service}@{r.env} · {r.kind} of {r.image_name} {r.version}"
    failed = tl.failed_step
    crossing = (
        f"<p><b>The canary failed at step {escape(str(failed.get('step')))}:</b> "
        f"{escape(step_label(failed))}</p>"
        if failed
        else ""
    )
    no_samples = (
        "" if tl.colours else "<p class=muted>no load-balancer samples were recorded for this rollout</p>"
    )
    png = (
        f"<p class=muted>static image of this chart: <a href='{escape(png_name)}'>{escape(png_name)}</a></p>"
        if png_name
        else ""
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{summary(stored)}{crossing}"
        f"<h2>timeline</h2>{no_samples}<div id=chart>{chart_html}</div>{png}"
        f"<h2>canary analysis</h2>{verdict_table(tl)}"
        f"<h2>plan</h2>{plan_section(stored, tl)}"
        f"<h2>events</h2>{notes(tl)}"
        f"<p class=muted>made by <span class=mono>bakery report {escape(r.id)} --env {escape(r.env)}"
        f"</span></p></body></html>"
    )
