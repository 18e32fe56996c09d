"""bench/RESULTS.md, one section per benchmark: each script replaces its own section in place
(or appends it), so a rerun of one benchmark leaves the others' numbers as they were."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(section: str, path: Path = RESULTS) -> str:
    """``section`` starts with its own "## Title" line; returns it, for printing."""
    title = section.splitlines()[0]
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    if title + "\n" in text:
        before, _, rest = text.partition(title + "\n")
        after = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = before + section.rstrip("\n") + ("\n\n" + after.lstrip("\n") if after else "\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
    return section
