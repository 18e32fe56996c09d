#!/usr/bin/env python3
"""Requests lost during rollouts, under load through the real HAProxy on 127.0.0.1.

Scenarios, each with load running from before the change until after it:
  (a) blue/green swap 1.0.0 -> 1.1.0        (wrk)
  (b) canary rollout 1.1.0 -> 1.2.0         (wrk)
  (c) rollback 1.2.0 -> 1.1.0               (wrk)
  (d) canary of the bad variant (web-bad)   (httpx generator with a timestamp per request,
      so failures can be placed against the time the canary held weight)

Works in a throwaway copy of the project (own state, own port, own containers, removed at
the end). Load targets 127.0.0.1 only and is bounded in time. Writes the "Rollout" section
of bench/RESULTS.md. Usage: .venv/bin/python bench/bench_rollout.py [--no-write]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from results import write_section
from scratch import remove_project, scratch_project  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BAKERY = str(Path(sys.executable).parent / "bakery")
WRK = shutil.which("wrk") or "/usr/bin/wrk"


@dataclass
class Row:
    scenario: str
    tool: str
    requests: int
    failed: int
    load_seconds: float
    change_seconds: float
    note: str = ""
    extra: dict = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bakery(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([BAKERY, "--project", str(project), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"bakery {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def verify_all(project: Path, names: list[str]) -> str:
    """Every image the bench rolls out passes the real `bakery verify` first (invariant 3)."""
    for name in names:
        bakery(project, "verify", name)
    return "verified with `bakery verify`"


def set_version(project: Path, version: str) -> None:
    path = project / "images" / "web" / "image.yaml"
    path.write_text(re.sub(r"(?m)^version: .*$", f"version: {version}", path.read_text()))


def parse_wrk(text: str) -> tuple[int, int]:
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    errors = 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        errors = sum(int(x) for x in m.groups())
    return requests, non2xx + errors


def with_wrk(url: str, change: list[str], project: Path, lead: float, seconds: float) -> tuple[Row, str]:
    """Start wrk, make the change after ``lead`` seconds, let wrk run ``seconds`` in all."""
    wrk = subprocess.Popen([WRK, "-t2", "-c8", f"-d{seconds:.0f}s", "--timeout", "5s", url],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(lead)
    started = time.monotonic()
    proc = bakery(project, *change)
    change_seconds = time.monotonic() - started
    out, _ = wrk.communicate(timeout=seconds + 30)
    requests, failed = parse_wrk(out)
    return Row(" ".join(change[:1]), "wrk -t2 -c8", requests, failed, seconds, change_seconds), proc.stdout


class Generator:
    """httpx load with one (time, status) per request; -1 for a connection error."""

    def __init__(self, url: str, threads: int = 4):
        self.url = url
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.lock = threading.Lock()

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                try:
                    code = client.get(self.url).status_code
                except httpx.HTTPError:
                    code = -1
                with self.lock:
                    self.samples.append((time.time(), code))

    def __enter__(self) -> Generator:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


def bad_canary(url: str, project: Path) -> Row:
    """(d): failures must all fall while the canary held weight (first weights event .. restore)."""
    marks: list[tuple[float, dict]] = []
    with Generator(url) as gen:
        time.sleep(2)
        started = time.monotonic()
        proc = subprocess.Popen([BAKERY, "--project", str(project), "rollout", "web", "--env", "staging",
                                 "--image", "web-bad:1.0.0", "--canary", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stdout:
            if line.startswith('{"event"'):
                marks.append((time.time(), json.loads(line)))
        proc.wait()
        change_seconds = time.monotonic() - started
        time.sleep(2)
    weights = [(t, e) for t, e in marks if e["event"] == "weights"]
    opened = next(t for t, e in weights if e["green_percent"] > 0)
    restored = next(t for t, e in weights if e["green_percent"] == 0)
    # A request that started just before the restore can answer just after it: allow its timeout.
    window_end = restored + 1.0
    failures = [(t, c) for t, c in gen.samples if not 200 <= c < 300]
    outside = [f for f in failures if not opened <= f[0] <= window_end]
    total = len(gen.samples)
    verdicts = [e for _, e in marks if e["event"] == "verdict"]
    return Row("rollout --canary (bad variant)", "httpx x4 threads", total, len(failures),
               gen.samples[-1][0] - gen.samples[0][0] if gen.samples else 0.0, change_seconds,
               note=f"exit {proc.returncode}; {len(failures) - len(outside)} failure(s) while the canary "
                    f"held weight ({restored - opened:.1f}s), {len(outside)} outside it",
               extra={"outside": len(outside), "verdicts": verdicts})


def write_results(rows: list[Row], verified: str, path: Path) -> str:
    lines = [
        "## Rollout",
        "",
        "Command: `.venv/bin/python bench/bench_rollout.py` (a throwaway copy of the project, the",
        "staging definition on a free loopback port, 2 replicas, canary steps 10% then 50% with 5 s",
        f"pauses; {verified}). Load runs from 2 s before each change until after it; failed",
        "counts non-2xx answers plus connection errors.",
        "",
        "| scenario | load | requests | failed | load s | change s | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.tool} | {r.requests} | {r.failed} | {r.load_seconds:.1f} | "
                     f"{r.change_seconds:.1f} | {r.note} |")
    lines.append("")
    return write_section("\n".join(lines) + "\n", path)


def main() -> None:
    import docker

    tmp, project = scratch_project("bakery-bench-rollout-")
    port = free_port()
    staging = project / "rollouts" / "staging" / "web.yaml"
    staging.write_text(staging.read_text().replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{port}"))
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, BAKERY_PROJECT=str(project))
    os.environ.update(env)
    rows: list[Row] = []
    try:
        bakery(project, "build", "web", "lb", "web-bad")
        set_version(project, "1.1.0")
        bakery(project, "build", "web")
        set_version(project, "1.2.0")
        bakery(project, "build", "web")
        verified = verify_all(project, ["web:1.0.0", "web:1.1.0", "web:1.2.0", "web-bad:1.0.0"])
        bakery(project, "rollout", "web", "--env", "staging", "--image", "1.0.0")
        row, _ = with_wrk(url, ["rollout", "web", "--env", "staging", "--image", "1.1.0"], project, 2, 10)
        row.scenario, row.note = "(a) blue/green swap 1.0.0 -> 1.1.0", "answers 1.1.0 after"
        rows.append(row)
        row, _ = with_wrk(url, ["rollout", "web", "--env", "staging", "--image", "1.2.0", "--canary"],
                          project, 2, 20)
        row.scenario, row.note = "(b) canary 1.1.0 -> 1.2.0 (10%, 50%, 100%)", "both analyses pass"
        rows.append(row)
        row, _ = with_wrk(url, ["rollback", "web", "--env", "staging"], project, 2, 8)
        row.scenario, row.note = "(c) rollback 1.2.0 -> 1.1.0", "previous fleet kept running"
        rows.append(row)
        row = bad_canary(url, project)
        row.scenario = "(d) canary of web-bad (30% 500s) vs 1.1.0"
        rows.append(row)
        live = httpx.get(url + "version", timeout=5).text.strip()
        for r in rows:
            print(f"{r.scenario}: {r.requests} requests, {r.failed} failed, load {r.load_seconds:.1f}s, "
                  f"change {r.change_seconds:.1f}s {r.note}")
        print(f"live after the bench: {live}")
        if "--no-write" not in sys.argv:
            print(write_results(rows, verified, ROOT / "bench" / "RESULTS.md"))
        ok = all(r.failed == 0 and r.requests >= 10_000 for r in rows[:3]) and rows[3].extra["outside"] == 0
        if not ok:
            raise SystemExit("the rollout benchmark did not meet its bar (see above)")
    finally:
        client = docker.from_env()
        sys.path.insert(0, str(ROOT))
        from bakery.engine.scope import scope_for
        from bakery.project import Project

        pid = scope_for(Project(project), "staging", "web").project_id
        remove_project(client, pid, tmp)


if __name__ == "__main__":
    main()
