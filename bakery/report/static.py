"""The main chart as a PNG (matplotlib, Agg: no display needed), for pasting into a ticket."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: a report is drawn on servers without a display

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from bakery.report.figure import COLOUR_LINES, OUTCOME_COLOURS, ROWS, THRESHOLD  # noqa: E402
from bakery.telemetry.series import Timeline, step_label  # noqa: E402


def _nan(values: list[float | None], scale: float = 1.0) -> list[float]:
    return [float("nan") if v is None else v * scale for v in values]


def write_png(tl: Timeline, title: str, path: Path) -> Path:
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(12, 10), constrained_layout=True)
    try:
        for colour, s in tl.colours.items():
            c = COLOUR_LINES.get(colour, "#555")
            for ax, values in zip(axes, (s.share_pct, _nan(s.rps), _nan(s.error_rate, 100.0),
                                         _nan(s.rtime_ms)), strict=True):
                ax.plot(s.t, values, color=c, label=colour, linewidth=1.8)
        t = tl.thresholds
        if "max_error_rate" in t:
            axes[2].axhline(100.0 * float(t["max_error_rate"]), color=THRESHOLD, linestyle="--",
                            label=f"max error rate {float(t['max_error_rate']):.1%}")
        if "max_p99_ms" in t:
            axes[3].axhline(float(t["max_p99_ms"]), color=THRESHOLD, linestyle="--",
                            label=f"max p99 {float(t['max_p99_ms']):g} ms")
        for w in tl.weights:
            for ax in axes:
                ax.axvline(w["t"], color="#999", linestyle=":", linewidth=1)
            axes[0].annotate(f"{w.get('colour')} {w.get('green_percent')}%", (w["t"], 100), fontsize=8,
                             color="#666", xytext=(2, 2), textcoords="offset points")
        for i, v in enumerate(tl.verdicts):
            c = OUTCOME_COLOURS.get(str(v.get("outcome")), "#ff7f0e")
            for ax in axes:
                ax.axvline(v["t"], color=c, linewidth=1)
            y = 100.0 * float(v.get("error_rate", 0.0))
            axes[2].plot([v["t"]], [y], "o", color=c, markersize=12)
            axes[2].annotate(str(v.get("step", i + 1)), (v["t"], y), color="white", ha="center", va="center",
                             fontsize=8, fontweight="bold")
            axes[2].annotate(step_label(v), (v["t"], y), xytext=(-8, 14 + 12 * (i % 3)),
                             textcoords="offset points", ha="right", fontsize=8, color=c,
                             bbox={"boxstyle": "round", "fc": "white", "ec": c, "alpha": 0.85})
            axes[3].plot([v["t"]], [float(v.get("p99_ms", 0.0))], "o", color=c, markersize=8)
        for ax, name in zip(axes, ROWS, strict=True):
            ax.set_title(name, loc="left", fontsize=10)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
        axes[0].set_ylim(0, 110)
        axes[0].legend(loc="upper right", fontsize=8)
        axes[2].legend(loc="upper left", fontsize=8)
        axes[-1].set_xlabel("seconds since the rollout started")
        fig.suptitle(title, fontsize=12, x=0.01, ha="left")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path
