#!/usr/bin/env python3
"""Rollouts to three SSH hosts under load through the real HAProxy on 127.0.0.1.

Three Docker-in-Docker hosts with sshd (images/host, tests/integration/hosts_support.py), web
with 2 replicas on each (6), canary steps 10% then 50% with 5 s pauses, images through bakery's
registry (`bakery registry up`, hosts pull by digest):
  ship   web 1.0.0 to the 3 hosts, side by side in one run: docker save | ssh docker load
         (OpenSSH), the same through the docker SDK's own paramiko transport, the registry
         (push once + 3 pulls by digest), and the registry again (pulls only: already pushed)
  (a)    blue/green swap 1.0.0 -> 1.1.0          (wrk)
  (b)    canary 1.1.0 -> 1.2.0                   (wrk)
  (c)    rollback 1.2.0 -> 1.1.0                 (wrk)
  scale  first rollout of 3 vs 30 replicas over the 3 hosts (images already there: each host's
         pull by digest finds it)
  (d)    canary 1.1.0 -> 1.2.0 with h3 killed once the canary holds 10% (httpx, one timestamp
         per request, so failures can be placed against the kill)

Traffic goes only to loopback and the hosts' addresses; every host, container and network the
bench starts is removed at the end. Writes the "Hosts" section of bench/RESULTS.md.
Usage: .venv/bin/python bench/bench_hosts.py [--no-write]
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

from bench_rollout import BAKERY, Generator, Row, bakery, free_port, set_version, verify_all, with_wrk  # noqa: E402
from results import write_section  # noqa: E402
from scratch import remove_project, scratch_project  # noqa: E402


def targets_text(hosts) -> str:  # noqa: ANN001 - SshHosts
    return hosts.targets_yaml()


def env_file(project: Path, env: str, port: int, replicas: int, hosts,  # noqa: ANN001
             registry: str | None = None) -> None:
    text = (project / "rollouts" / "staging" / "web.yaml").read_text()
    text = (text.replace("environment: staging", f"environment: {env}")
            .replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{port}")
            .replace("replicas: 2", f"replicas: {replicas}")
            .replace("start_timeout: 60s", "start_timeout: 300s"))
    folder = project / "rollouts" / env
    folder.mkdir(exist_ok=True)
    (folder / "web.yaml").write_text(text + hosts.targets_yaml(registry=registry))


def ship_times(project_obj, hosts) -> dict[str, float]:  # noqa: ANN001
    """Seconds to get web 1.0.0 onto the 3 hosts, in parallel, each way in turn (the image
    removed from the hosts in between): OpenSSH save/load, the SDK's paramiko load, the registry
    with its push, the registry once the image is there (pulls only)."""
    from dataclasses import replace

    from bakery.registry import server
    from bakery.registry.push import repository
    from bakery.rollout.adapters import ssh as ssh_adapter
    from bakery.rollout.ports import FleetSpec
    from bakery.store import builds
    from bakery.store.db import connect

    conn = connect(project_obj.db_path)
    rec = builds.find(conn, "web", "1.0.0")[0]
    conn.close()
    defn = project_obj.load_rollout("hosts", "web")
    direct = replace(defn.targets, registry=None)
    spec = FleetSpec(rec.image_id, rec.name, rec.version, rec.fingerprint, "blue", "bench", 1, 8080,
                     1.0, 2.0, 3)
    out = {}
    for label, targets, openssh in (
            ("docker save | ssh docker load (OpenSSH)", direct, True),
            ("docker SDK load over paramiko", direct, False),
            ("registry: push once + 3 pulls by digest", defn.targets, True),
            ("registry: 3 pulls by digest (already pushed)", defn.targets, True)):
        runtime = ssh_adapter.SshRuntime(targets, project_obj.state_dir)
        saved = ssh_adapter.have_openssh
        ssh_adapter.have_openssh = lambda openssh=openssh: openssh  # type: ignore[assignment]
        try:
            started = time.monotonic()
            done = runtime._each(targets.hosts, lambda h, c, rt=runtime: rt.ship(h, c, spec))
            out[label] = time.monotonic() - started
            assert len(done) == 3, runtime.down
        finally:
            ssh_adapter.have_openssh = saved
        runtime._each(targets.hosts, lambda h, c: c.images.remove(rec.image_id, force=True))
    port = server.running(project_obj.state_dir).port
    print(f"registry holds {repository('web')} at 127.0.0.1:{port}")
    return out


def killed_canary(url: str, project: Path, env: str, container) -> Row:  # noqa: ANN001
    """(d): kill a host once the canary holds 10%; failures are counted before and after."""
    marks: list[tuple[float, dict]] = []
    killed_at = 0.0
    with Generator(url) as gen:
        time.sleep(5)  # steady traffic before and after the change: at least 10,000 requests in all
        started = time.monotonic()
        proc = subprocess.Popen([BAKERY, "--project", str(project), "rollout", "web", "--env", env,
                                 "--image", "1.2.0", "--canary", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stdout:
            if line.startswith('{"event"'):
                event = json.loads(line)
                marks.append((time.time(), event))
                if event["event"] == "weights" and event.get("green_percent") == 10 and not killed_at:
                    container.kill()
                    killed_at = time.time()
        proc.wait()
        change_seconds = time.monotonic() - started
        time.sleep(8)
    failures = [(t, c) for t, c in gen.samples if not 200 <= c < 300]
    before = [f for f in failures if f[0] < killed_at]
    return Row("(d) canary 1.1.0 -> 1.2.0, h3 killed at 10%", "httpx x4 threads", len(gen.samples),
               len(failures), gen.samples[-1][0] - gen.samples[0][0] if gen.samples else 0.0, change_seconds,
               note=f"exit {proc.returncode} (rolled back to blue); {len(before)} failed before the kill, "
                    f"{len(failures) - len(before)} after it (4 clients: at most 4 in flight on h3)",
               extra={"before": len(before)})


def write_results(rows: list[Row], ships: dict[str, float], scale: dict[int, float], verified: str,
                  path: Path) -> str:
    lines = ["## Hosts", "",
             "Command: `.venv/bin/python bench/bench_hosts.py` (three Docker-in-Docker hosts with sshd",
             "from images/host on their own network, web with 2 replicas on each, canary steps 10% then",
             "50% with 5 s pauses, images through bakery's registry (TLS, pulled by digest);",
             f"{verified}). Failed counts non-2xx answers plus connection errors.",
             "", "| scenario | load | requests | failed | load s | change s | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.tool} | {r.requests} | {r.failed} | {r.load_seconds:.1f} | "
                     f"{r.change_seconds:.1f} | {r.note} |")
    lines += ["", "| shipping web 1.0.0 (≈140 MB) to 3 hosts at once | s |", "|---|---:|"]
    lines += [f"| {k.replace('|', chr(92) + '|')} | {v:.1f} |" for k, v in ships.items()]
    lines += ["", "| first rollout over 3 hosts (image already there) | s |", "|---|---:|"]
    lines += [f"| {n} replicas | {s:.1f} |" for n, s in scale.items()]
    if len(scale) == 2:
        a, b = scale.values()
        lines += ["", f"30 / 3 replicas rollout time = {b / a:.2f}x"]
    lines.append("")
    return write_section("\n".join(lines) + "\n", path)


def main() -> None:
    from bakery.cli.registry import registry_up
    from bakery.engine.client import engine
    from bakery.engine.scope import scope_for
    from bakery.project import Project
    from bakery.registry import server
    from tests.integration.hosts_support import REGISTRY_NAME, ssh_hosts

    client = engine()
    tmp, project = scratch_project("bakery-bench-hosts-")
    os.environ["BAKERY_PROJECT"] = str(project)
    project_obj = Project(project)
    rows: list[Row] = []
    try:
        with ssh_hosts(client, project_obj, tmp) as hosts:
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            reg = f"{REGISTRY_NAME}:{free_port()}"  # one registry for every env (one port)
            env_file(project, "hosts", port, 6, hosts, registry=reg)
            env_file(project, "r3", free_port(), 3, hosts, registry=reg)
            env_file(project, "r30", free_port(), 30, hosts, registry=reg)
            bakery(project, "build", "web", "lb")
            set_version(project, "1.1.0")
            bakery(project, "build", "web")
            set_version(project, "1.2.0")
            bakery(project, "build", "web")
            bakery(project, "build", "registry")
            verified = verify_all(project, ["web:1.0.0", "web:1.1.0", "web:1.2.0", "registry:1.0.0"])
            registry_up(project_obj)
            bakery(project, "hosts", "check", "hosts")
            ships = ship_times(project_obj, hosts)
            bakery(project, "rollout", "web", "--env", "hosts", "--image", "1.0.0")
            row, _ = with_wrk(url, ["rollout", "web", "--env", "hosts", "--image", "1.1.0"], project, 2, 15)
            row.scenario, row.note = "(a) blue/green swap 1.0.0 -> 1.1.0", "6 members on 3 hosts"
            rows.append(row)
            row, _ = with_wrk(url, ["rollout", "web", "--env", "hosts", "--image", "1.2.0", "--canary"],
                              project, 2, 25)
            row.scenario, row.note = "(b) canary 1.1.0 -> 1.2.0 (10%, 50%, 100%)", "both analyses pass"
            rows.append(row)
            row, _ = with_wrk(url, ["rollback", "web", "--env", "hosts"], project, 2, 15)
            row.scenario, row.note = "(c) rollback 1.2.0 -> 1.1.0", "previous fleet kept running"
            rows.append(row)
            scale = {}
            for n, env in ((3, "r3"), (30, "r30")):
                started = time.monotonic()
                bakery(project, "rollout", "web", "--env", env, "--image", "1.0.0")
                scale[n] = time.monotonic() - started
                _remove_env(project_obj, env)
            rows.append(killed_canary(url, project, "hosts", client.containers.get(hosts.hosts[2].container)))
            for r in rows:
                print(f"{r.scenario}: {r.requests} requests, {r.failed} failed, load {r.load_seconds:.1f}s, "
                      f"change {r.change_seconds:.1f}s {r.note}")
            print(ships, scale)
            if "--no-write" not in sys.argv:
                print(write_results(rows, ships, scale, verified, ROOT / "bench" / "RESULTS.md"))
    finally:
        server.down(project_obj.state_dir, purge=True)
        pid = scope_for(project_obj, "hosts", "web").project_id
        remove_project(client, pid, tmp)


def _remove_env(project_obj, env: str) -> None:  # noqa: ANN001
    """The scale envs' fleets and LB go at once: 30 idle members would weigh on what follows."""
    from bakery.balancer.haproxy import HAProxy
    from bakery.engine.scope import scope_for
    from bakery.rollout.adapters.ssh import SshRuntime

    defn = project_obj.load_rollout(env, "web")
    scope = scope_for(project_obj, env, "web")
    runtime = SshRuntime(defn.targets, project_obj.state_dir)
    for fleet in runtime.list_fleets(scope):
        runtime.remove_fleet(fleet)
    HAProxy(scope, defn).remove()


if __name__ == "__main__":
    main()
