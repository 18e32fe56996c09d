#!/usr/bin/env python3
"""Requests lost while `bakery reconcile` replaces a drifted member, under load through the real
HAProxy on 127.0.0.1, and what a second reconcile and a drift audit cost.

  1. build web and the LB, `bakery verify` web, `bakery reconcile` rolls staging out (2 members);
  2. member 1 drifts (`docker exec ... touch /etc/nginx/evil.conf`); `bakery drift` finds it (exit 3);
  3. wrk runs; after 2 s `bakery reconcile` drains member 1, replaces it from the same verified
     image, puts the new one in; wrk runs on until the end;
  4. a second `bakery reconcile` does nothing and says so; `bakery drift` is clean (exit 0).

Works in a throwaway copy of the project (own state, own port, own containers, removed at the
end). Writes the "Reconcile" section of bench/RESULTS.md.
Usage: .venv/bin/python bench/bench_reconcile.py [--no-write]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_rollout import bakery, free_port, parse_wrk
from results import write_section
from scratch import remove_project, scratch_project  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WRK = shutil.which("wrk") or "/usr/bin/wrk"
COMMAND = ".venv/bin/python bench/bench_reconcile.py"


def timed(project: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = bakery(project, *args, check=False)
    return proc, time.monotonic() - started


def main() -> None:
    import docker

    tmp, project = scratch_project("bakery-bench-reconcile-", drop_production=True)
    port = free_port()
    staging = project / "rollouts" / "staging" / "web.yaml"
    staging.write_text(staging.read_text().replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{port}"))
    url = f"http://127.0.0.1:{port}/"
    os.environ["BAKERY_PROJECT"] = str(project)
    client = docker.from_env()
    sys.path.insert(0, str(ROOT))
    from bakery.engine.scope import scope_for
    from bakery.project import Project

    scope = scope_for(Project(project), "staging", "web")
    try:
        bakery(project, "build", "web", "lb")
        bakery(project, "verify", "web")
        first, first_s = timed(project, "reconcile", "--env", "staging")
        assert first.returncode == 0, first.stdout + first.stderr
        members = {int(c.labels["io.bakery.slot"]): c for c in client.containers.list(
            filters={"label": scope.label_filter("service")})}
        assert members[1].exec_run("touch /etc/nginx/evil.conf", user="root").exit_code == 0
        found, drift_s = timed(project, "drift", "--env", "staging")
        assert found.returncode == 3 and "/etc/nginx/evil.conf" in found.stdout, found.stdout

        seconds = 20
        wrk = subprocess.Popen([WRK, "-t2", "-c8", f"-d{seconds}s", "--timeout", "5s", url],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)
        fixed, fix_s = timed(project, "reconcile", "--env", "staging")
        out, _ = wrk.communicate(timeout=seconds + 30)
        requests, failed = parse_wrk(out)
        assert fixed.returncode == 0 and "replaced" in fixed.stdout, fixed.stdout + fixed.stderr

        again, again_s = timed(project, "reconcile", "--env", "staging")
        clean, clean_s = timed(project, "drift", "--env", "staging")
        nothing = again.returncode == 0 and "nothing to do" in again.stdout
        rows = [
            ("first reconcile (nothing live: a rollout)", f"{first_s:.1f}", "exit 0"),
            ("drift, one member drifted (2 members)", f"{drift_s:.1f}", f"exit {found.returncode}"),
            ("reconcile replacing the drifted member under load", f"{fix_s:.1f}",
             f"{requests} requests, {failed} failed (wrk -t2 -c8, {seconds} s)"),
            ("second reconcile right after", f"{again_s:.1f}",
             "nothing to do" if nothing else f"exit {again.returncode}: {again.stdout.strip()[:80]}"),
            ("drift after the reconcile", f"{clean_s:.1f}", f"exit {clean.returncode}"),
        ]
        for what, secs, note in rows:
            print(f"{what}: {secs} s, {note}")
        section = "\n".join([
            "## Reconcile (issue 14)",
            "",
            f"Command: `{COMMAND}` (2 cores shared with other work; one staging fleet of 2 nginx members "
            "behind HAProxy; member 1 drifted by `touch /etc/nginx/evil.conf`).",
            "",
            "| step | seconds | result |",
            "|---|---:|---|",
            *[f"| {what} | {secs} | {note} |" for what, secs, note in rows],
            "",
            f"Requests lost while the drifted member was drained and replaced: {failed} of {requests}.",
            "",
        ])
        if "--no-write" not in sys.argv:
            print(write_section(section))
        if failed or requests < 10_000 or not nothing or clean.returncode != 0:
            raise SystemExit("the reconcile benchmark did not meet its bar (see above)")
    finally:
        remove_project(client, scope.project_id, tmp)


if __name__ == "__main__":
    main()
