#!/usr/bin/env python3
"""The fault matrix: what clients see, and what state is left, when things break mid-rollout.

Each scenario runs under load (httpx, 4 threads, one sample per request) through the real
HAProxy on a loopback port, from before the fault until after the next command that repairs it:
  kill -9 of `bakery rollout` at each phase (green starting, mid-canary, promoting, draining),
  kill -9 of `bakery rollback` between its weight change and its drain, two concurrent rollouts,
  a killed live member, every live member killed, a killed load balancer, a damaged state
  store (0 bytes), an engine that does not answer.
Works in a throwaway copy of the project (own state, own port, own containers, removed at
the end); load goes to 127.0.0.1 only and is bounded in time. Writes the "Faults" section of
bench/RESULTS.md. Usage: .venv/bin/python bench/bench_faults.py [--no-write]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
from bench_rollout import BAKERY, Generator, bakery, free_port, set_version
from results import write_section
from scratch import remove_project, scratch_project  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test helpers (tests/)

from bakery.engine.scope import scope_for
from bakery.project import Project
from tests.integration.rollout_support import run_killed_at

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    scenario: str
    requests: int
    failed: int
    after: str


def killed_at(project: Path, target: str, nth: int, *args: str) -> int:
    return run_killed_at(project, target, nth, *args).returncode


def status(project: Path) -> dict:
    return json.loads(bakery(project, "status", "--env", "staging", "--json").stdout)["services"][0]


def state(project: Path) -> str:
    st = status(project)
    live = st["live"]["version"] if st["live"] else "none"
    standby = st["standby"]["version"] if st["standby"] else "none"
    hist = json.loads(bakery(project, "history", "web", "--env", "staging", "--json", "--limit", "3").stdout)
    last = ", ".join(f"{h['kind']} {h['status']}" for h in hist["history"])
    return f"live {live}, standby {standby}, lock {'held' if st['lock'] else 'free'}; last: {last}"


def under_load(url: str, scenario: str, action, project: Path, settle: float = 2.0) -> Row:  # noqa: ANN001
    with Generator(url) as gen:
        time.sleep(settle)
        note = action() or ""
        time.sleep(settle)
    failed = sum(1 for _, code in gen.samples if not 200 <= code < 300)
    after = state(project)
    return Row(scenario, len(gen.samples), failed, f"{note}{'; ' if note else ''}{after}")


def main() -> None:
    client = docker.from_env()
    tmp, project = scratch_project("bakery-bench-faults-", drop_production=True)
    port = free_port()
    staging = project / "rollouts" / "staging" / "web.yaml"
    staging.write_text(staging.read_text().replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{port}")
                       .replace("pause: 5s", "pause: 2s"))
    url = f"http://127.0.0.1:{port}/"
    os.environ["BAKERY_PROJECT"] = str(project)
    rows: list[Row] = []
    def live_version() -> str:
        return status(project)["live"]["version"]

    def next_version() -> str:
        """The version that is not live, so each scenario's rollout really changes something."""
        return "1.0.0" if live_version() == "1.1.0" else "1.1.0"

    scope = scope_for(Project(project), "staging", "web")
    try:
        bakery(project, "build", "web", "lb")
        set_version(project, "1.1.0")
        bakery(project, "build", "web")
        for ref in ("web:1.0.0", "web:1.1.0"):
            bakery(project, "verify", ref)
        bakery(project, "rollout", "web", "--env", "staging", "--image", "1.0.0")

        for phase, target, nth in [("green starting", "bakery.rollout.traffic:enlist", 1),
                                   ("mid-canary (10%)", "bakery.rollout.canary:analyse_step", 1),
                                   ("promoting", "bakery.rollout.traffic:split", 3),
                                   ("draining", "bakery.rollout.traffic:drain", 1)]:
            version = next_version()

            def kill_then_rerun(target=target, nth=nth, version=version) -> str:
                rc = killed_at(project, target, nth, "rollout", "web", "--env", "staging", "--image", version,
                               "--canary")
                again = bakery(project, "rollout", "web", "--env", "staging", "--image", version, "--canary",
                               check=False)
                return f"killed (exit {rc}); next run exit {again.returncode}"
            scenario = f"kill -9 of rollout --canary while {phase}"
            rows.append(under_load(url, scenario, kill_then_rerun, project))

        def kill_rollback() -> str:
            rc = killed_at(project, "bakery.rollout.traffic:drain", 1, "rollback", "web", "--env", "staging")
            again = bakery(project, "rollback", "web", "--env", "staging", check=False)
            return f"killed (exit {rc}); next rollback exit {again.returncode}"
        rows.append(under_load(url, "kill -9 of rollback between its weight change and drain", kill_rollback,
                               project))

        def concurrent() -> str:
            version = next_version()
            cmd = [BAKERY, "--project", str(project), "rollout", "web", "--env", "staging",
                   "--image", version]
            procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2)]
            outs = [p.communicate(timeout=300) for p in procs]
            codes = sorted(p.returncode for p in procs)
            loser = next((o[1] for p, o in zip(procs, outs, strict=True) if p.returncode != 0), "")
            return f"exit codes {codes}; the other: {loser.strip().splitlines()[-1][:90] if loser else '-'}"
        rows.append(under_load(url, "two rollouts at once", concurrent, project))

        def live_members() -> list:
            st = status(project)
            fleet = next(f for f in st["fleets"] if f["rollout"] == st["live"]["rollout"])
            return [m["container_id"] for m in fleet["members"]]

        def kill_members(count: int):  # noqa: ANN202
            def act() -> str:
                version = live_version()  # what the operator knows is live, read before the fault
                for cid in live_members()[:count]:
                    client.containers.get(cid).kill()
                time.sleep(3)
                again = bakery(project, "rollout", "web", "--env", "staging", "--image", version,
                               check=False)
                hist = json.loads(bakery(project, "history", "web", "--env", "staging", "--json",
                                         "--limit", "1").stdout)["history"][0]
                return f"`rollout {version}` exit {again.returncode} ({hist['kind']} {hist['status']})"
            return act
        rows.append(under_load(url, "one live member killed, then `rollout` of the live version",
                               kill_members(1), project))
        rows.append(under_load(url, "every live member killed, then `rollout` of the live version",
                               kill_members(2), project))

        def kill_lb() -> str:
            version = status(project)["live"]["version"]
            client.containers.get(scope.lb_container).kill()
            time.sleep(2)
            said = status(project)["lb"]
            again = bakery(project, "rollout", "web", "--env", "staging", "--image", version, check=False)
            return f"status said lb {said}; rollout exit {again.returncode}"
        rows.append(under_load(url, "load balancer killed, then `rollout` of the live version", kill_lb,
                               project))

        def damaged_store() -> str:
            db = project / ".bakery" / "state.db"
            backup = tmp / "state.db.bak"
            target = next_version()  # read while the store is whole
            shutil.copy(db, backup)
            for extra in ("-wal", "-shm"):
                Path(f"{db}{extra}").unlink(missing_ok=True)
            db.write_bytes(b"")
            proc = bakery(project, "rollout", "web", "--env", "staging", "--image", target, check=False)
            message = (proc.stderr.strip().splitlines() or ["-"])[-1][:100]
            shutil.copy(backup, db)
            return f"rollout exit {proc.returncode}: {message}"
        rows.append(under_load(url, "state store truncated to 0 bytes", damaged_store, project))

        def no_engine() -> str:
            env = dict(os.environ, DOCKER_HOST="tcp://127.0.0.1:1")
            proc = subprocess.run([BAKERY, "--project", str(project), "rollout", "web", "--env", "staging",
                                   "--image", next_version()], capture_output=True, text=True, env=env)
            message = (proc.stderr.strip().splitlines() or ["-"])[-1][:100]
            return f"rollout exit {proc.returncode}: {message}"
        rows.append(under_load(url, "engine does not answer", no_engine, project))

        live = httpx.get(url + "version", timeout=5).text.strip()
        for r in rows:
            print(f"{r.scenario}: {r.requests} requests, {r.failed} failed; {r.after}")
        print(f"live after the bench: {live}")
        if "--no-write" not in sys.argv:
            print(write_results(rows, ROOT / "bench" / "RESULTS.md"))
    finally:
        pid = scope.project_id
        remove_project(client, pid, tmp)


def write_results(rows: list[Row], path: Path) -> str:
    lines = ["## Faults", "",
             "Command: `.venv/bin/python bench/bench_faults.py` (a throwaway copy of the project, staging",
             "definition on a free loopback port, 2 replicas, canary 10% then 50% with 2 s pauses; images",
             "verified with `bakery verify`). Load: httpx, 4 threads, from 2 s before each fault until 2 s",
             "after the command that repairs it; failed counts non-2xx answers plus connection errors.",
             "", "| fault | requests | failed | afterwards |", "|---|---|---|---|"]
    lines += [f"| {r.scenario} | {r.requests} | {r.failed} | {r.after} |" for r in rows]
    return write_section("\n".join(lines) + "\n", path)


if __name__ == "__main__":
    main()
