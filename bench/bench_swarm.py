#!/usr/bin/env python3
"""Rollouts to a three-node Docker Swarm under load through the real HAProxy on 127.0.0.1.

Three Docker-in-Docker nodes (images/host, tests/integration/swarm_support.py: `swarm init` on
h1, `join` on h2 and h3), web with 3 replicas as one Swarm service per colour, a Swarm secret,
canary steps 10% then 50% with 5 s pauses. The images are shipped to every node first, so the
times below are rollout times, not copy times:
  (a) blue/green swap 1.0.0 -> 1.1.0                          (wrk)
  (b) canary 1.1.0 -> 1.2.0, node h3 drained at 10%            (wrk; the drain moves tasks of
      both colours, bakery does not touch the services; h3 made active again afterwards)
  (c) rollback 1.2.0 -> 1.1.0                                  (wrk)
  (d) a live task killed under load; Swarm replaces it, then a repair run (`bakery rollout` of
      the live version) re-enlists its slot                    (wrk)
  anchor: `docker service update --update-order start-first --image` of the same change
      (1.1.0 -> 1.2.0, 3 replicas, same health check) on the same cluster, by the docker CLI on
      the manager over SSH; timed until the CLI says the service converged.

Traffic goes only to loopback and the nodes' addresses; every node, container and network the
bench starts is removed at the end. Writes the "Swarm" section of bench/RESULTS.md.
Usage: .venv/bin/python bench/bench_swarm.py [--no-write]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_rollout import (  # noqa: E402
    BAKERY,
    WRK,
    Row,
    bakery,
    free_port,
    parse_wrk,
    set_version,
    verify_all,
    with_wrk,
)
from results import write_section  # noqa: E402
from scratch import remove_project, scratch_project  # noqa: E402

ENV = "swarm"
ANCHOR = "bench-anchor"


def env_file(project: Path, port: int, cluster) -> None:  # noqa: ANN001 - SwarmCluster
    text = (project / "rollouts" / "staging" / "web.yaml").read_text()
    text = (text.replace("environment: staging", f"environment: {ENV}")
            .replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{port}")
            .replace("replicas: 2", "replicas: 3"))
    folder = project / "rollouts" / ENV
    folder.mkdir(exist_ok=True)
    (folder / "web.yaml").write_text(text + "secrets: [API_TOKEN]\n" + cluster.targets_yaml())


def records(project_obj) -> dict[str, object]:  # noqa: ANN001
    from bakery.store import builds
    from bakery.store.db import connect

    conn = connect(project_obj.db_path)
    try:
        return {v: builds.find(conn, "web", v)[0] for v in ("1.0.0", "1.1.0", "1.2.0")}
    finally:
        conn.close()


def runtime(project_obj):  # noqa: ANN001, ANN201
    from bakery.rollout.adapters.swarm import SwarmRuntime

    return SwarmRuntime(project_obj.load_rollout(ENV, "web").targets, project_obj.state_dir)


def ship_everywhere(project_obj, recs: dict) -> float:  # noqa: ANN001
    """Every version onto every node before anything is timed (the adapter's own shipping)."""
    from bakery.rollout.ports import FleetSpec

    rt = runtime(project_obj)
    started = time.monotonic()
    nodes = rt.nodes()
    for rec in recs.values():
        rt.ship_all(nodes, FleetSpec(rec.image_id, rec.name, rec.version, rec.fingerprint, "blue", "bench", 3,
                                     8080, 0.5, 2.0, 2))
    return time.monotonic() - started


def manager_cli(project_obj, *argv: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    """The docker CLI on the manager, over SSH with bakery's key and known_hosts."""
    from bakery.hosts.ship import ssh_argv

    rt = runtime(project_obj)
    return subprocess.run(ssh_argv(rt.manager_host, project_obj.state_dir, ["docker", *argv]),
                          capture_output=True, text=True, timeout=600)


def drained_canary(url: str, project_obj, seconds: float = 60) -> Row:  # noqa: ANN001
    """(b): h3 drained once the canary holds 10%; made active again after the run."""
    rt = runtime(project_obj)
    (node,) = [n for n in rt.nodes().values() if n.hostname == "h3"]

    def availability(value: str) -> None:
        spec = rt.manager.api.inspect_node(node.id)
        rt.manager.api.update_node(node.id, spec["Version"]["Index"], {**spec["Spec"], "Availability": value})

    wrk = subprocess.Popen([WRK, "-t2", "-c8", f"-d{seconds:.0f}s", "--timeout", "5s", url],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    started = time.monotonic()
    proc = subprocess.Popen([BAKERY, "--project", str(project_obj.root), "rollout", "web", "--env", ENV,
                             "--image", "1.2.0", "--canary", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    drained, verdicts, reenlisted = False, [], 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.startswith('{"event"'):
            continue
        event = json.loads(line)
        if event["event"] == "weights" and event.get("green_percent") == 10 and not drained:
            availability("drain")
            drained = True
        if event["event"] == "verdict":
            verdicts.append(f"{event['weight']}% {event['outcome']}")
        if event["event"] == "info" and "re-enlisted" in event.get("text", ""):
            reenlisted += 1
    proc.wait()
    change = time.monotonic() - started
    availability("active")
    out, _ = wrk.communicate(timeout=seconds + 30)
    requests, failed = parse_wrk(out)
    return Row("(b) canary 1.1.0 -> 1.2.0, h3 drained at 10%", "wrk -t2 -c8", requests, failed, seconds,
               change,
               note=f"exit {proc.returncode}; verdicts {', '.join(verdicts) or 'none'}; "
                    f"{reenlisted} re-enlisting(s) by the canary's probe")


def killed_task(url: str, project_obj, seconds: float = 30) -> Row:  # noqa: ANN001
    """(d): a live task's container killed on its node; Swarm replaces it; a repair run re-enlists."""
    from bakery.engine.scope import scope_for

    rt = runtime(project_obj)
    scope = scope_for(project_obj, ENV, "web")
    wrk = subprocess.Popen([WRK, "-t2", "-c8", f"-d{seconds:.0f}s", "--timeout", "5s", url],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(3)
    live = [f for f in rt.list_fleets(scope) if f.version == "1.1.0"][0]
    victim = live.members[0]
    host = rt.hosts.host(victim.name.split("/")[0])
    started = time.monotonic()
    rt.hosts.client(host).containers.get(victim.container_id.split(":")[1]).kill()
    while True:
        now = [f for f in rt.list_fleets(scope) if f.rollout_id == live.rollout_id][0]
        slot = [m for m in now.members if m.index == victim.index][0]
        if slot.status == "running" and slot.container_id != victim.container_id:
            break
        time.sleep(0.25)
    replaced = time.monotonic() - started
    repair = bakery(project_obj.root, "rollout", "web", "--env", ENV, "--image", "1.1.0", check=False)
    change = time.monotonic() - started
    out, _ = wrk.communicate(timeout=seconds + 30)
    requests, failed = parse_wrk(out)
    said = (repair.stderr.strip().splitlines() or [""])[-1].replace("|", "/")
    outcome = "re-enlisted it" if repair.returncode == 0 else f"FAILED ({said})"
    return Row("(d) live task killed, replaced by Swarm, re-enlisted", "wrk -t2 -c8", requests, failed,
               seconds, change,
               note=f"Swarm's replacement running after {replaced:.1f}s; the repair run {outcome}")


def anchor(project_obj, recs: dict) -> tuple[float, float]:  # noqa: ANN001
    """(create s, update s): Swarm's own start-first rolling update of the same change."""
    old, new = recs["1.1.0"].image_id, recs["1.2.0"].image_id
    started = time.monotonic()
    made = manager_cli(project_obj, "service", "create", "--quiet", "--name", ANCHOR, "--replicas", "3",
                       "--no-resolve-image", "--publish", "mode=host,target=8080",
                       "--health-interval", "500ms", "--health-timeout", "2s", "--health-retries", "2",
                       "--placement-pref", "spread=node.labels.zone", old)
    created = time.monotonic() - started
    if made.returncode != 0:
        raise SystemExit(f"anchor create failed: {made.stderr}")
    started = time.monotonic()
    updated = manager_cli(project_obj, "service", "update", "--quiet", "--update-order", "start-first",
                          "--no-resolve-image", "--image", new, ANCHOR)
    took = time.monotonic() - started
    if updated.returncode != 0:
        raise SystemExit(f"anchor update failed: {updated.stderr}")
    manager_cli(project_obj, "service", "rm", ANCHOR)
    return created, took


def write_results(rows: list[Row], shipped: float, anchor_times: tuple[float, float], verified: str,
                  path: Path) -> str:
    swap = rows[0].change_seconds
    lines = ["## Swarm", "",
             "Command: `.venv/bin/python bench/bench_swarm.py` (three Docker-in-Docker nodes from",
             "images/host forming one Swarm, web with 3 replicas as one Swarm service per colour, tasks",
             "published in host mode, one Swarm secret, canary steps 10% then 50% with 5 s pauses;",
             f"{verified}). Failed counts non-2xx answers plus wrk's socket errors.", "",
             "| scenario | load | requests | failed | load s | change s | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.tool} | {r.requests} | {r.failed} | {r.load_seconds:.1f} | "
                     f"{r.change_seconds:.1f} | {r.note} |")
    ratio = swap / anchor_times[1]
    lines += ["", "| one version change, 3 replicas, images already on the nodes | s |", "|---|---:|",
              "| bakery blue/green swap (a) 1.0.0 -> 1.1.0, whole run: new service, health, HAProxy "
              f"check, drain | {swap:.1f} |",
              "| `docker service update --update-order start-first --image` 1.1.0 -> 1.2.0 (anchor) | "
              f"{anchor_times[1]:.1f} |",
              f"| (the anchor's `docker service create` of 3 replicas, for scale) | {anchor_times[0]:.1f} |",
              "", f"bakery swap / Swarm start-first update = {ratio:.2f}x. Shipping web 1.0.0, 1.1.0 and",
              f"1.2.0 to the 3 nodes beforehand (docker save | ssh docker load): {shipped:.1f} s.",
              "Requests through Swarm's own update are not counted: without the ingress routing mesh (no",
              "`ip_vs` on these machines) a start-first update moves each task to a new host port, so there",
              "is no stable address to send load to; bakery's HAProxy is that address for (a)-(d).", ""]
    return write_section("\n".join(lines) + "\n", path)


def main() -> None:
    from bakery.engine.client import engine
    from bakery.engine.scope import scope_for
    from bakery.project import Project
    from tests.integration.swarm_support import swarm_cluster

    client = engine()
    tmp, project = scratch_project("bakery-bench-swarm-")
    os.environ["BAKERY_PROJECT"] = str(project)
    os.environ["BAKERY_SECRET_API_TOKEN"] = "bench-secret-value"
    project_obj = Project(project)
    rows: list[Row] = []
    try:
        with swarm_cluster(client, project_obj, tmp) as cluster:
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            env_file(project, port, cluster)
            bakery(project, "build", "web", "lb")
            set_version(project, "1.1.0")
            bakery(project, "build", "web")
            set_version(project, "1.2.0")
            bakery(project, "build", "web")
            verified = verify_all(project, ["web:1.0.0", "web:1.1.0", "web:1.2.0"])
            bakery(project, "hosts", "check", ENV)
            recs = records(project_obj)
            shipped = ship_everywhere(project_obj, recs)
            bakery(project, "rollout", "web", "--env", ENV, "--image", "1.0.0")
            row, _ = with_wrk(url, ["rollout", "web", "--env", ENV, "--image", "1.1.0"], project, 2, 25)
            row.scenario, row.note = "(a) blue/green swap 1.0.0 -> 1.1.0", "a new service; blue kept"
            rows.append(row)
            rows.append(drained_canary(url, project_obj))
            row, _ = with_wrk(url, ["rollback", "web", "--env", ENV], project, 2, 10)
            row.scenario, row.note = "(c) rollback 1.2.0 -> 1.1.0", "the kept service, untouched"
            rows.append(row)
            rows.append(killed_task(url, project_obj))
            anchor_times = anchor(project_obj, recs)
            for r in rows:
                print(f"{r.scenario}: {r.requests} requests, {r.failed} failed, load {r.load_seconds:.1f}s, "
                      f"change {r.change_seconds:.1f}s {r.note}")
            print(f"shipped {shipped:.1f}s, anchor create/update {anchor_times}")
            if "--no-write" not in sys.argv:
                print(write_results(rows, shipped, anchor_times, verified, ROOT / "bench" / "RESULTS.md"))
    finally:
        pid = scope_for(project_obj, ENV, "web").project_id
        remove_project(client, pid, tmp)


if __name__ == "__main__":
    main()
