#!/usr/bin/env python3
"""What trust costs: `bakery lint` with and without policy/ (the example policies), and signing
and checking one evidence envelope.

Lint is timed as the CLI, end to end (Python start-up included), on copies of the example
project; the envelope numbers are in-process (securesystemslib, ed25519).
Usage: .venv/bin/python bench/bench_trust.py [--runs N]
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


def lint_seconds(project: Path, runs: int) -> float:
    env = {**os.environ, "BAKERY_PROJECT": str(project)}
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([BAKERY, "lint"], check=True, env=env, capture_output=True)
        times.append(time.monotonic() - started)
    return statistics.median(times)


def envelope_ms(workdir: Path, runs: int) -> tuple[float, float]:
    from bakery.evidence import envelopes, statements
    from bakery.evidence.keys import init_key, load_signer
    from bakery.packages import Package
    from bakery.project import Project
    from bakery.store.builds import BuildRecord

    os.environ["XDG_CONFIG_HOME"] = str(workdir / "config")
    project = Project(workdir / "keyed")
    (project.root / "images").mkdir(parents=True)
    public, _ = init_key(project, "bench")
    _, signer = load_signer(project)
    rec = BuildRecord("f" * 64, "web", "1.0.0", "sha256:" + "a" * 64, "2026-01-01T00:00:00Z",
                      "sha256:" + "b" * 64, tuple(Package(f"p{i}", "1.0", "amd64") for i in range(120)),
                      {"name": "web"})
    statement = statements.provenance(rec, "images/web/image.yaml", None, "bakery/base/debian:bookworm")
    started = time.perf_counter()
    for i in range(runs):
        envelopes.write(workdir / "ev", f"p{i}.intoto.json", envelopes.sign(statement, signer))
    sign = (time.perf_counter() - started) / runs * 1000
    started = time.perf_counter()
    for i in range(runs):
        assert not envelopes.check(workdir / "ev" / f"p{i}.intoto.json", [public]).problems
    check = (time.perf_counter() - started) / runs * 1000
    return sign, check


def policy_ms(project: Path, runs: int) -> float:
    from bakery.policy.evaluate import check_definitions
    from bakery.project import Project

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        check_definitions(Project(project))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plain, policed = work / "plain", work / "policed"
        for target in (plain, policed):
            for folder in ("images", "rollouts"):
                shutil.copytree(ROOT / folder, target / folder)
        shutil.copytree(ROOT / "policy", policed / "policy")
        lint_seconds(plain, 1)  # warm the page cache
        # interleaved, so both see the same machine load
        pairs = [(lint_seconds(plain, 1), lint_seconds(policed, 1)) for _ in range(args.runs)]
        without = statistics.median(a for a, _ in pairs)
        with_policy = statistics.median(b for _, b in pairs)
        sign, check = envelope_ms(work, 50)
        evaluate = policy_ms(policed, 20)
    print(f"bakery lint, no policy/:        {without:.3f} s (median of {args.runs})")
    print(f"bakery lint, 6 example policies: {with_policy:.3f} s (median of {args.runs})")
    print(f"ratio with / without policies:   {with_policy / without:.2f}x")
    print(f"in-process: load 6 policies + evaluate 5 definitions: {evaluate:.1f} ms (median of 20)")
    print(f"sign + write one provenance envelope (120 packages): {sign:.2f} ms")
    print(f"read + check one envelope:                           {check:.2f} ms")


if __name__ == "__main__":
    main()
