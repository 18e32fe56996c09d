"""The main chart of a rollout report, as a plotly figure: four timelines sharing one time axis.

Per colour: its share of the weight in rotation, requests per second, error rate and response
time, with the analysis thresholds drawn as lines. Every weight change is a dotted line, every
canary verdict a numbered mark with its numbers, so a failed step is visible where it crossed.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bakery.telemetry.series import Timeline, step_label

COLOUR_LINES = {"blue": "#1f77b4", "green": "#2ca02c"}
THRESHOLD = "#d62728"
OUTCOME_COLOURS = {"pass": "#2ca02c", "fail": "#d62728"}
ROWS = ("traffic share (%)", "requests/s", "error rate (%)", "response time (ms)")


def _pct(values: list[float | None]) -> list[float | None]:
    return [None if v is None else 100.0 * v for v in values]


def build(tl: Timeline, title: str) -> go.Figure:
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.06, subplot_titles=ROWS)
    for colour, s in tl.colours.items():
        line = {"color": COLOUR_LINES.get(colour, "#555"), "width": 2}
        for row, (values, fmt) in enumerate(
            ((s.share_pct, ".0f"), (s.rps, ".1f"), (_pct(s.error_rate), ".2f"), (s.rtime_ms, ".0f")), 1
        ):
            fig.add_trace(
                go.Scatter(
                    x=s.t,
                    y=values,
                    name=colour,
                    legendgroup=colour,
                    showlegend=row == 1,
                    mode="lines",
                    line={**line, "shape": "hv"} if row == 1 else line,  # weights change in steps
                    connectgaps=False,
                    hovertemplate=f"{colour} %{{y:{fmt}}} at t=%{{x:.0f}}s<extra></extra>",
                ),
                row=row,
                col=1,
            )
    _thresholds(fig, tl)
    _weight_changes(fig, tl)
    _verdicts(fig, tl)
    fig.update_layout(
        title={"text": title, "x": 0.01, "y": 0.985, "yanchor": "top"},
        height=900,
        margin={"l": 60, "r": 30, "t": 110, "b": 40},
        hovermode="x unified",
        template="plotly_white",
        legend={"orientation": "h", "y": 1.07, "yanchor": "bottom", "x": 0, "xanchor": "left"},
    )
    fig.update_xaxes(title_text="seconds since the rollout started", row=4, col=1)
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(range=[0, 105], row=1, col=1)
    return fig


def _thresholds(fig: go.Figure, tl: Timeline) -> None:
    t = tl.thresholds
    if "max_error_rate" in t:
        fig.add_hline(
            y=100.0 * float(t["max_error_rate"]),
            row=3,
            col=1,
            line={"color": THRESHOLD, "dash": "dash"},
            annotation_text=f"max error rate {float(t['max_error_rate']):.1%}",
            annotation_position="top left",
            annotation_font_color=THRESHOLD,
        )
    if "max_p99_ms" in t:
        fig.add_hline(
            y=float(t["max_p99_ms"]),
            row=4,
            col=1,
            line={"color": THRESHOLD, "dash": "dash"},
            annotation_text=f"max p99 {float(t['max_p99_ms']):g} ms",
            annotation_position="top left",
            annotation_font_color=THRESHOLD,
        )


def _weight_changes(fig: go.Figure, tl: Timeline) -> None:
    for w in tl.weights:
        fig.add_vline(x=w["t"], row="all", col=1, line={"color": "#999", "dash": "dot", "width": 1})
        fig.add_annotation(
            x=w["t"],
            y=102,
            row=1,
            col=1,
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            text=f"{w.get('colour')} {w.get('green_percent')}%",
            font={"size": 10, "color": "#666"},
        )


def _verdicts(fig: go.Figure, tl: Timeline) -> None:
    if not tl.verdicts:
        return
    colours = [OUTCOME_COLOURS.get(str(v.get("outcome")), "#ff7f0e") for v in tl.verdicts]
    numbers = [str(v.get("step", i + 1)) for i, v in enumerate(tl.verdicts)]
    labels = [step_label(v) for v in tl.verdicts]
    xs = [v["t"] for v in tl.verdicts]
    marker: dict[str, Any] = {"size": 16, "color": colours, "line": {"color": "white", "width": 1}}
    panels = ((3, "error_rate", 100.0, "verdict (error rate over the step)"),
              (4, "p99_ms", 1.0, "verdict p99 (probes)"))
    for row, key, scale, name in panels:
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[scale * float(v.get(key, 0.0)) for v in tl.verdicts],
                mode="markers+text",
                text=numbers,
                textfont={"color": "white", "size": 10},
                marker=marker,
                name=name,
                hovertext=labels,
                hoverinfo="text",
                showlegend=True,
            ),
            row=row,
            col=1,
        )
    for i, v in enumerate(tl.verdicts):
        fig.add_vline(x=v["t"], row="all", col=1, line={"color": colours[i], "width": 1})
        fig.add_annotation(
            x=v["t"],
            y=100.0 * float(v.get("error_rate", 0.0)),
            row=3,
            col=1,
            text=labels[i],
            showarrow=True,
            arrowhead=2,
            ax=-40,
            ay=-30 - 22 * (i % 3),
            xanchor="right",
            font={"size": 11, "color": colours[i]},
            bgcolor="rgba(255,255,255,0.85)",
            bordercolor=colours[i],
        )
