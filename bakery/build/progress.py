"""What the user sees while images build: a live table (one line per image) on a terminal,
plain lines otherwise. The model is pure; the views only draw it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

WAITING, BUILDING, DONE, FAILED = "waiting", "building", "done", "failed"


@dataclass
class ImageLine:
    name: str
    version: str
    state: str = WAITING
    step: str = ""
    started: float | None = None
    finished: float | None = None

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now) - self.started


@dataclass
class ProgressModel:
    """One line per image, moved along by builder events."""

    lines: dict[str, ImageLine] = field(default_factory=dict)

    @classmethod
    def of(cls, images: list[tuple[str, str]]) -> ProgressModel:
        return cls({name: ImageLine(name, version) for name, version in images})

    def apply(self, name: str, kind: str, text: str, now: float) -> ImageLine:
        line = self.lines.setdefault(name, ImageLine(name, ""))
        if kind == "start":
            line.state, line.started, line.step = BUILDING, now, "fingerprinting"
        elif kind == "step":
            line.step = text
        elif kind == "done":
            line.state, line.finished, line.step = DONE, now, text
        elif kind == "failed":
            line.state, line.finished, line.step = FAILED, now, text
        elif kind == "info" and line.state == BUILDING:
            line.step = text
        return line


ICONS = {WAITING: Text("·", style="dim"), DONE: Text("✓", style="green"),
         FAILED: Text("✗", style="bold red")}


def render_table(model: ProgressModel, now: float) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(min_width=1)
    table.add_column(style="cyan", no_wrap=True, min_width=max((len(n) for n in model.lines), default=1))
    table.add_column(no_wrap=True, min_width=max((len(x.version) for x in model.lines.values()), default=1))
    table.add_column(justify="right", no_wrap=True, style="dim", min_width=6)
    table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    for line in model.lines.values():
        icon = Spinner("dots") if line.state == BUILDING else ICONS[line.state]
        table.add_row(icon, line.name, line.version, f"{line.elapsed(now):5.1f}s",
                      Text(line.step, style="red" if line.state == FAILED else ""))
    return table


class Progress:
    """Thread-safe sink for ``runner.build_many``; a context manager around the live view."""

    def __init__(self, console: Console, images: list[tuple[str, str]], live: bool | None = None,
                 quiet: bool = False):
        self.console = console
        self.model = ProgressModel.of(images)
        self.quiet = quiet
        self.live = console.is_terminal if live is None else live
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.live and not self.quiet:
            self._live = Live(console=self.console, refresh_per_second=8, transient=False,
                              get_renderable=lambda: render_table(self.model, time.monotonic()))
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.__exit__(None, None, None)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        name, text = data.get("image", ""), data.get("text", "")
        with self._lock:
            self.model.apply(name, kind, text, time.monotonic())
            if self.quiet or self._live is not None:
                return
            if kind in ("step", "info", "failed"):
                mark = {"done": "[green]✓[/] ", "failed": "[bold red]✗[/] "}.get(kind, "")
                self.console.print(f"{mark}[cyan]{name}[/] {text}", highlight=False, soft_wrap=True)
