#!/usr/bin/env python3
"""Time `bakery verify web` (median of N runs) and count the commands it runs inside the
container (the engine's exec_start events of `/bin/sh -c` for its throwaway containers).

Runs in a private copy of the project (its own state store), so the real one is untouched.
Usage: .venv/bin/python bench/bench_verify.py [--runs 3] [--image web]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAKERY = str(Path(sys.executable).parent / "bakery")


def execs_since(client, since: float, until: float, name: str) -> int:
    events = client.events(since=int(since), until=int(until) + 1, decode=True,
                           filters={"type": "container", "event": "exec_start",
                                    "label": [f"io.bakery.image.name={name}", "io.bakery.role=verify"]})
    # testinfra and the built-in checks run `/bin/sh -c ...`; the engine's own health probes
    # (the image's HEALTHCHECK) are not bakery's doing and vary with the run's length.
    return sum(1 for e in events if e.get("Action", "").startswith("exec_start: /bin/sh -c "))


def main() -> None:
    import docker

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--image", default="web")
    opts = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="bakery-bench-verify-") as tmp:
        project = Path(tmp) / "project"
        for folder in ("images", "rollouts"):
            shutil.copytree(ROOT / folder, project / folder)
        env = {**os.environ, "BAKERY_PROJECT": str(project)}
        env.pop("BAKERY_STATE_DIR", None)
        subprocess.run([BAKERY, "build", opts.image], check=True, env=env, stdout=subprocess.DEVNULL)
        seconds, execs = [], []
        for _ in range(opts.runs):
            wall = time.time()
            started = time.monotonic()
            subprocess.run([BAKERY, "verify", opts.image], check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds.append(time.monotonic() - started)
            time.sleep(1.0)  # let the engine publish the last events
            execs.append(execs_since(client, wall - 1, time.time(), opts.image))
    print(f"bakery verify {opts.image}: median {statistics.median(seconds):.2f}s over {opts.runs} runs "
          f"({', '.join(f'{s:.2f}' for s in seconds)}); commands run in the container per run: "
          f"{', '.join(map(str, execs))}")


if __name__ == "__main__":
    main()
