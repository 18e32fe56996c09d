"""Rollout reports: one self-contained HTML page (plotly, JS inline) and a PNG of its main chart.

Used only by the CLI (``bakery report``, and ``bakery rollout`` when a rollout ends); it reads the
state store through ``bakery.telemetry`` and draws, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bakery.report.figure import build
from bakery.report.page import render
from bakery.report.static import write_png
from bakery.telemetry.series import Timeline, timeline
from bakery.telemetry.stored import StoredRollout


@dataclass(frozen=True)
class Written:
    html: Path
    png: Path | None
    timeline: Timeline


def write(stored: StoredRollout, html_path: Path, png: bool = True) -> Written:
    """Write the report page (and the PNG beside it, same name): returns both paths."""
    tl = timeline(stored.samples)
    r = stored.row
    title = f"{r.service}@{r.env} {r.kind} {r.image_name} {r.version}: {r.status} (rollout {r.id})"
    png_path = html_path.with_suffix(".png") if png else None
    if png_path is not None:
        write_png(tl, title, png_path)
    chart = build(tl, title).to_html(full_html=False, include_plotlyjs=True, div_id="rollout-chart",
                                     config={"displaylogo": False, "responsive": True})
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render(stored, tl, chart, png_path.name if png_path else None), encoding="utf-8")
    return Written(html_path, png_path, tl)


__all__ = ["Written", "write"]
