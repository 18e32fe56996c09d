#!/usr/bin/env python3
"""What a command costs before it does anything: `bakery --help` and a no-op `bakery build`,
beside the interpreter's own start-up and `docker version` (the engine's CLI) in the same run.

Goals (issue "One rollout core"): --help under 0.3 s, a no-op build under 0.5 s. Runs each
command N times interleaved, prints min and median, and writes the "Start-up" section of
bench/RESULTS.md. Usage: .venv/bin/python bench/bench_startup.py [--runs N] [--no-write]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results import write_section

ROOT = Path(__file__).resolve().parent.parent
BAKERY = str(Path(sys.executable).parent / "bakery")


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 15
    subprocess.run([BAKERY, "build", "web"], cwd=ROOT, check=True, capture_output=True)  # make it a no-op
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "bakery --help": [BAKERY, "--help"],
        "bakery build web (no-op)": [BAKERY, "build", "web"],
    }
    if docker := shutil.which("docker"):
        commands["docker version (engine CLI)"] = [docker, "version"]
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            samples[name].append(timed(argv))
    lines = ["## Start-up", "",
             f"Command: `.venv/bin/python bench/bench_startup.py --runs {runs}` ({runs} interleaved runs of",
             "each; goals: `--help` under 0.3 s, a no-op build under 0.5 s). Each command's module loads",
             "only when it runs (`bakery/cli/app.py` `COMMANDS`).", "",
             "| command | min s | median s |", "|---|---|---|"]
    for name, values in samples.items():
        lines.append(f"| {name} | {min(values):.3f} | {statistics.median(values):.3f} |")
    section = "\n".join(lines) + "\n"
    print(section)
    if "--no-write" not in sys.argv:
        write_section(section)


if __name__ == "__main__":
    main()
