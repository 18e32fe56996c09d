"""The one shape of progress events in bakery: ``sink(kind, data)``.

Builds, verification, patch runs and rollouts all report through it; ``kind`` names what
happened ("step", "log", "info", "warn", "weights", "verdict", "done", ...) and ``data`` is a
JSON-able dict (``text`` for a line of prose, ``image`` for the image it is about). One shape
means one progress view, one JSON-lines writer and one recorder can follow any command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Sink = Callable[[str, dict[str, Any]], None]


def quiet(kind: str, data: dict[str, Any]) -> None:
    """A sink that drops everything."""
    return None
