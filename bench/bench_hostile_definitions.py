"""Time and memory of `bakery lint` on hostile definitions (issue 12.1), one process per case.

Before the bounded loader the alias bomb ran for minutes past 7 GB and deep nesting ended in a
RecursionError. Run: .venv/bin/python bench/bench_hostile_definitions.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAD = "name: t\nversion: 1.0.0\nbase: debian:bookworm\n"
BAKERY = str(Path(sys.executable).with_name("bakery"))


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return HEAD + "labels:\n" + "".join(f"  {line}\n" for line in lines)


CASES = {
    "alias bomb (9 levels of 9)": billion_laughs(),
    "flow nesting [ x 100,000": HEAD + "labels: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "block nesting 500 levels": HEAD + "labels:\n" + "".join(" " * (i + 2) + f"k{i}:\n" for i in range(500)),
    "20,001 values": HEAD + "packages: [" + ",".join(["a"] * 20_001) + "]\n",
    "10,000 packages": HEAD + "packages:\n" + "".join(f"  - package-number-{i}\n" for i in range(10_000)),
    "5 MB description": HEAD + "description: " + "x" * 5_000_000 + "\n",
    "not UTF-8": HEAD + "description: caf\udce9\n",
}


def lint_in_process(root: Path) -> float:
    """Seconds Project.lint() takes here, without the interpreter's start-up and imports."""
    from bakery.project import Project

    started = time.perf_counter()
    Project(root).lint()
    return time.perf_counter() - started


def main() -> None:
    print("| case | file bytes | exit | `bakery lint` s | of which lint() s | max RSS MB "
          "| first line of the answer |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, text in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "images" / "t"
            folder.mkdir(parents=True)
            data = text.encode("utf-8", "surrogateescape")
            (folder / "image.yaml").write_bytes(data)
            started = time.perf_counter()
            proc = subprocess.run([BAKERY, "--project", tmp, "lint"], capture_output=True, text=True,
                                  env={**os.environ, "COLUMNS": "400"})
            seconds = time.perf_counter() - started
            inside = lint_in_process(Path(tmp))
        rss = max(resource.getrusage(who).ru_maxrss // 1024
                  for who in (resource.RUSAGE_CHILDREN, resource.RUSAGE_SELF))
        answer = (proc.stderr or proc.stdout).strip().splitlines()[0][:110]
        print(f"| {name} | {len(data):,} | {proc.returncode} | {seconds:.2f} | {inside:.3f} | {rss} "
              f"| `{answer}` |")


if __name__ == "__main__":
    main()
