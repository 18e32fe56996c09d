#!/usr/bin/env python3
"""Time `bakery verify web` (median of N runs) and count the commands it runs inside the
container (the engine's exec_start events of `/bin/sh -c` for its throwaway containers).

Runs in a private copy of the project (its own state store), so the real one is untouched;
the image is web under the name `benchweb`, so other runs of `web` on a shared engine do not
mix into the counts. With ``--against REV`` the runs alternate between the working tree and
REV's pytest-child side (`bakery/verify/builtin_checks.py` and `plugin.py`, put in place for
those runs and restored afterwards; refused when they have uncommitted changes), so both
sides see the same machine load.

Usage: .venv/bin/python bench/bench_verify.py [--runs 3] [--against REV]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAKERY = str(Path(sys.executable).parent / "bakery")
# What runs in the pytest child: the built-in checks and the plugin (host fixtures, results).
CHILD_FILES = [ROOT / "bakery" / "verify" / name for name in ("builtin_checks.py", "plugin.py")]
NAME = "benchweb"


class ExecCounter:
    """Counts exec_start events of the bench's verify containers, listening live: the engine
    keeps only its last few hundred events for `since` queries, too few on a busy engine."""

    def __init__(self, client) -> None:
        self.count = 0
        self.stream = client.events(decode=True, filters={
            "type": "container", "event": "exec_start",
            "label": [f"io.bakery.image.name={NAME}", "io.bakery.role=verify"]})
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        try:
            for event in self.stream:
                # testinfra and the built-in checks run `/bin/sh -c ...`; the engine's own
                # health probes (the image's HEALTHCHECK) vary with the run's length.
                if event.get("Action", "").startswith("exec_start: /bin/sh -c "):
                    self.count += 1
        except Exception:  # the stream is closed under us at the end
            return

    def stop(self) -> int:
        time.sleep(1.0)  # let the engine publish the last events
        self.stream.close()
        return self.count


def one_run(client, env: dict[str, str]) -> tuple[float, int]:
    counter = ExecCounter(client)
    started = time.monotonic()
    subprocess.run([BAKERY, "verify", NAME], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    return seconds, counter.stop()


def put(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.write_text(text)


def show(label: str, runs: list[tuple[float, int]]) -> float:
    seconds = [s for s, _ in runs]
    median = statistics.median(seconds)
    print(f"{label}: bakery verify web median {median:.2f}s over {len(runs)} runs "
          f"({', '.join(f'{s:.2f}' for s in seconds)}); commands run in the container per run: "
          f"{', '.join(str(n) for _, n in runs)}")
    return median


def main() -> None:
    import docker

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="alternate with REV's built-in checks")
    opts = parser.parse_args()
    client = docker.from_env()
    current = {path: path.read_text() for path in CHILD_FILES}
    old: dict[Path, str] | None = None
    if opts.against:
        rels = [path.relative_to(ROOT).as_posix() for path in CHILD_FILES]
        if subprocess.run(["git", "diff", "--quiet", "HEAD", "--", *rels], cwd=ROOT).returncode != 0:
            sys.exit(f"{', '.join(rels)}: uncommitted changes; commit them first")
        old = {path: subprocess.run(["git", "show", f"{opts.against}:{rel}"], cwd=ROOT, check=True,
                                    capture_output=True, text=True).stdout
               for path, rel in zip(CHILD_FILES, rels, strict=True)}
    with tempfile.TemporaryDirectory(prefix="bakery-bench-verify-") as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(ROOT / "images" / "web", project / "images" / NAME)
        definition = project / "images" / NAME / "image.yaml"
        definition.write_text(definition.read_text().replace("name: web", f"name: {NAME}", 1))
        env = {**os.environ, "BAKERY_PROJECT": str(project)}
        env.pop("BAKERY_STATE_DIR", None)
        subprocess.run([BAKERY, "build", NAME], check=True, env=env, stdout=subprocess.DEVNULL)
        now: list[tuple[float, int]] = []
        before: list[tuple[float, int]] = []
        try:
            for _ in range(opts.runs):
                if old is not None:
                    put(old)
                    before.append(one_run(client, env))
                    put(current)
                now.append(one_run(client, env))
        finally:
            put(current)
    median_now = show("working tree", now)
    if before:
        median_before = show(opts.against, before)
        print(f"working tree / {opts.against} = {median_now / median_before:.3f}x")


if __name__ == "__main__":
    main()
