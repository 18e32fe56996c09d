#!/usr/bin/env python3
"""Time `bakery base debian:bookworm`: a cold bootstrap (mmdebstrap + import), then a no-op rerun.

Runs in a separate tag namespace so the project's real base image is left alone.
Usage: .venv/bin/python bench/bench_base.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAKERY = str(Path(sys.executable).parent / "bakery")


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run([BAKERY, "--project", str(ROOT), *args], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    import docker

    namespace = f"bakery-bench-{uuid.uuid4().hex[:8]}/base"
    env = {**os.environ, "BAKERY_BASE_NAMESPACE": namespace, "BAKERY_BASE_PULL": "1"}
    try:
        cold = timed(["base", "debian:bookworm"], env)
        warm = timed(["base", "debian:bookworm"], env)
    finally:
        client = docker.from_env()
        for image in client.images.list(name=f"{namespace}/debian"):
            for tag in image.tags:
                client.images.remove(tag)
    print("| step | seconds |")
    print("|---|---|")
    print(f"| cold `bakery base debian:bookworm` (mmdebstrap --variant=minbase + import) | {cold:.1f} |")
    print(f"| second run (no-op) | {warm:.2f} |")
    print(f"| ratio no-op / cold | {warm / cold:.3f} |")


if __name__ == "__main__":
    main()
