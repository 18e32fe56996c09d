#!/usr/bin/env python3
"""Fleets of a hundred and the LB path, side by side in one run (issue 13, items 3-5).

1. Engine CPU with 100 idle members: before (each member with the old 500 ms engine
   HEALTHCHECK, a bash exec each time) and after (a real 100-replica rollout with bakery's
   defaults: no engine check, HAProxy's HTTP checks at the definition's 500 ms).
2. Blue/green swap time (no pauses) for 3, 30 and 100 replicas, each under wrk load through
   `listen:`, with requests sent and failed; beside it, the engine alone creating and starting
   as many members the way bakery does, under the same load (the floor no runtime code lowers),
   with the CPU the engine spent per start (dockerd, its re-executions, containerd), and once
   more on the default bridge at the biggest size. Each is timed after the machine settles.
3. req/s and p99 (wrk -t2 -c32 --latency) through `listen:` vs straight to one member vs a
   minimal HAProxy started here as a plain process (Debian's haproxy) with the same backends.

CPU is counted per process, not from the machine's total (the machine is shared): the main
engine's dockerd and containerd (not those of Docker-in-Docker hosts), the shims of the
bench's containers (their reaped runc children included) and the containers' own cgroups
(the exec'd health checks run there). dockerd and containerd serve every user of the engine,
so other work on the machine shows up in them; the machine's load average is printed.

Works in a throwaway copy of the project (own state, ports, containers; removed at the end).
Usage: .venv/bin/python bench/bench_fleet.py [--no-write] [--sizes 3,30,100]
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import docker
from results import write_section
from scratch import scratch_project  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BAKERY = str(Path(sys.executable).parent / "bakery")
WRK = shutil.which("wrk") or "/usr/bin/wrk"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
TICK = os.sysconf("SC_CLK_TCK")
IDLE_SECONDS = 20.0
#: Members started with the old 500 ms engine check. 100 of them saturate the 2 shared cores: a
#: first run reached a load average of 170 while they started (the checks of the first ones slow
#: the starts of the next) and was stopped; 20 measure the per-member cost without that.
BEFORE_MEMBERS = 20
ROUNDS = 5  # interleaved wrk rounds per traffic path (the shared machine is noisy)
#: Where the engine-alone runs start their members, as the CPU table names it.
OWN_NETWORK, DEFAULT_BRIDGE = "the environment's network", "the default bridge"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bakery(project: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([BAKERY, "--project", str(project), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bakery {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


# -- CPU accounting ----------------------------------------------------------------------------
def _own_and_reaped(pid: int) -> tuple[int, int]:
    """(utime+stime, cutime+cstime) of a process: its own CPU and that of children it reaped."""
    try:
        fields = [int(x) for x in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:15]]
    except OSError:
        return 0, 0
    return fields[0] + fields[1], fields[2] + fields[3]


def _proc_ticks(pid: int) -> int:
    """utime+stime+cutime+cstime of a process: its own CPU and that of children it reaped."""
    return sum(_own_and_reaped(pid))


def _host_pids(name: str) -> list[int]:
    """Processes called ``name`` that are not inside a container (the main engine's)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != name:
                continue
            if "docker" in (entry / "cgroup").read_text():
                continue
        except OSError:
            continue
        out.append(int(entry.name))
    return out


def _shim_pids(ids: set[str]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"containerd-shim-runc-v2") and b"-id" in args:
            cid = args[args.index(b"-id") + 1].decode()
            if cid in ids:
                found.append(int(entry.name))
    return found


def _cgroup_ns(cid: str) -> int:
    for base in ("/sys/fs/cgroup/cpuacct/docker", "/sys/fs/cgroup/cpu,cpuacct/docker"):
        path = Path(base) / cid / "cpuacct.usage"
        if path.exists():
            return int(path.read_text())
    return 0


def engine_cpu(ids: set[str], seconds: float) -> dict[str, float]:
    """Percent of one core over ``seconds``: engine daemons, the containers' shims, the containers."""
    daemons = _host_pids("dockerd") + _host_pids("containerd")
    shims = _shim_pids(ids)

    def sample() -> tuple[int, int, int, float]:
        return (sum(map(_proc_ticks, daemons)), sum(map(_proc_ticks, shims)),
                sum(_cgroup_ns(c) for c in ids), time.monotonic())

    d0, s0, c0, t0 = sample()
    time.sleep(seconds)
    d1, s1, c1, t1 = sample()
    wall = t1 - t0
    result = {"daemons": 100 * (d1 - d0) / TICK / wall, "shims": 100 * (s1 - s0) / TICK / wall,
              "containers": 100 * (c1 - c0) / 1e9 / wall}
    result["total"] = sum(result.values())
    return result


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- project ---------------------------------------------------------------------------------
def set_version(project: Path, version: str) -> None:
    path = project / "images" / "web" / "image.yaml"
    path.write_text(re.sub(r"(?m)^version: .*$", f"version: {version}", path.read_text()))


def add_env(project: Path, env: str, replicas: int) -> int:
    port = free_port()
    src = (ROOT / "rollouts" / "staging" / "web.yaml").read_text()
    text = src.replace("environment: staging", f"environment: {env}").replace(
        "replicas: 2", f"replicas: {replicas}").replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{port}")
    text = text.replace("start_timeout: 60s", "start_timeout: 300s")
    text = re.sub(r"(?ms)^  canary:\n.*?(?=^  analysis:)", "", text)  # blue/green, no pauses
    (project / "rollouts" / env).mkdir(parents=True, exist_ok=True)
    (project / "rollouts" / env / "web.yaml").write_text(text)
    return port


def project_containers(client: docker.DockerClient, project: Path, env: str | None = None) -> list[dict]:
    """Rows of the engine's list endpoint (no inspect per container)."""
    from bakery.engine.scope import PROJECT_LABEL, scope_for
    from bakery.project import Project

    pid = scope_for(Project(project), env or "staging", "web").project_id
    filters = [f"{PROJECT_LABEL}={pid}"] + ([f"io.bakery.env={env}"] if env else [])
    return client.api.containers(all=True, filters={"label": filters})


def teardown(client: docker.DockerClient, project: Path, env: str | None = None) -> None:
    from bakery.engine.scope import PROJECT_LABEL, scope_for
    from bakery.project import Project

    for row in project_containers(client, project, env):  # one at a time: see LocalRuntime._each
        client.api.remove_container(row["Id"], force=True)
    if env is None:
        pid = scope_for(Project(project), "staging", "web").project_id
        for net in client.networks.list(filters={"label": f"{PROJECT_LABEL}={pid}"}):
            net.remove()


def mark_verified(project: Path, versions: list[str]) -> None:
    """Recorded as passed without running testinfra: the bench measures fleets, not verify (the
    same definitions pass `bakery verify` in tests/integration/test_rollout_paths.py)."""
    from bakery.project import Project
    from bakery.store import builds, journal, verifications
    from bakery.store.db import connect

    conn = connect(Project(project).db_path)
    try:
        for version in versions:
            rec = builds.find(conn, "web", version)[0]
            verifications.record(conn, verifications.VerificationRecord(
                rec.fingerprint, f"bakery/web:{version}", True, journal.now(), 0.0,
                {"by": "bench/bench_fleet.py"}))
    finally:
        conn.close()


# -- load ------------------------------------------------------------------------------------
def wrk(url: str, seconds: float, connections: int = 32, latency: bool = True) -> dict[str, float]:
    args = [WRK, "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "5s"]
    out = subprocess.run([*args, *(["--latency"] if latency else []), url], capture_output=True,
                         text=True, timeout=seconds + 30).stdout
    return parse_wrk(out)


def parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests = int(re.search(r"(\d+) requests in", text).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    failed = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        failed += sum(int(x) for x in m.groups())
    p99 = ms(*m.groups()) if (m := re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)) else float("nan")
    return {"requests": requests, "rps": rps, "failed": failed, "p99_ms": p99}


def swap_load(url: str) -> subprocess.Popen:
    """The load a swap is timed under: wrk -t2 -c8 through ``url``, running 2 s already when
    this returns; SIGINT makes it print its summary on stdout."""
    load = subprocess.Popen([WRK, "-t2", "-c8", "-d600s", "--timeout", "5s", url], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    return load


def timed_swap(project: Path, env: str, url: str) -> dict[str, float]:
    """The blue/green swap to 1.1.0 under wrk -c8 load that starts 2 s before and ends after it."""
    load = swap_load(url)
    started = time.monotonic()
    proc = subprocess.Popen([BAKERY, "--project", str(project), "rollout", "web", "--env", env, "--image",
                             "1.1.0", "--json"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # --trace: when each event came, to see where a swap's time goes
        if "--trace" in sys.argv:
            print(f"  {time.monotonic() - started:7.2f}s {line.strip()[:150]}", flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"the swap of {env} failed")
    seconds = time.monotonic() - started
    time.sleep(1)
    load.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
    out, _ = load.communicate(timeout=30)
    stats = parse_wrk(out)
    return {"seconds": seconds, "requests": stats["requests"], "failed": stats["failed"]}


def _machine_busy_ticks() -> int:
    """Busy CPU of the whole machine since boot (all but idle and iowait), in clock ticks."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def settle(limit: float = 90.0, busy_percent: float = 30.0) -> float:
    """Wait (at most ``limit`` s) until the machine is quiet: under ``busy_percent`` of one core
    over 2 s. Removing 100 containers leaves the kernel and the engine unmounting and deleting
    namespaces after the API calls return; each measurement starts on a quiet machine so that
    it does not pay for the step before it. (The run before this wait took 18.5 s beyond the
    engine's starts at 100 replicas, right after two engine-alone runs of 100; the first run
    with it, 2.2 s. The wait found the machine quiet within 2 s there, so that difference is
    not shown to be the wait's.) Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = _machine_busy_ticks()
        time.sleep(2)
        if 100 * (_machine_busy_ticks() - before) / TICK / 2 < busy_percent:
            break
    return time.monotonic() - started


def engine_floor(client: docker.DockerClient, project: Path, env: str, image: str, n: int, url: str,
                 network: str | None = None, parallelism: int = 8) -> dict[str, float]:
    """The engine alone creating and starting ``n`` members as bakery does (same image, the
    environment's network unless ``network`` names another, no engine healthcheck,
    ``parallelism`` at once: 8 like bakery's default),
    under the swap's wrk load: the part of a swap that grows with the fleet and that bakery
    cannot make faster. Beside the seconds, CPU seconds per member: dockerd's own, what dockerd's
    reaped children used (Docker 20.10 re-executes its own binary to create each network
    namespace, and again on a user-defined network to install the embedded DNS rules, which
    runs iptables) and containerd's. (The whole machine's CPU per start means nothing here: the
    load keeps both cores busy whatever the engine does.)"""
    from concurrent.futures import ThreadPoolExecutor

    from bakery.engine.scope import scope_for
    from bakery.project import Project

    network = network or scope_for(Project(project), env, "web").network
    label = f"bakery-bench-floor-{os.getpid()}"
    api = client.api
    dockerd, containerd = _host_pids("dockerd"), _host_pids("containerd")

    def start(i: int) -> None:
        endpoint = {} if network == "bridge" else {  # the default bridge takes no endpoint config
            "networking_config": api.create_networking_config({network: api.create_endpoint_config()})}
        created = api.create_container(
            image, name=f"{label}-{i}", detach=True, labels={"bakery-bench": label},
            healthcheck={"test": ["NONE"]}, host_config=api.create_host_config(network_mode=network),
            **endpoint)
        api.start(created["Id"])

    def sample() -> tuple[int, int, int]:
        own, reaped = (sum(x) for x in zip(*map(_own_and_reaped, dockerd), strict=True))
        return own, reaped, sum(map(_proc_ticks, containerd))

    load = swap_load(url)
    try:
        before, started = sample(), time.monotonic()
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            list(pool.map(start, range(n)))
        seconds, after = time.monotonic() - started, sample()
    finally:
        load.terminate()
        load.communicate(timeout=10)  # its summary is not wanted here
        for row in api.containers(all=True, filters={"label": f"bakery-bench={label}"}):
            api.remove_container(row["Id"], force=True)  # one at a time: see LocalRuntime._each
    per_member = [(b - a) / TICK / n for a, b in zip(before, after, strict=True)]
    return {"seconds": seconds, **dict(zip(("dockerd", "reexec", "containerd"), per_member,
                                           strict=True))}


# -- the minimal host HAProxy ------------------------------------------------------------------
HOST_CFG = """\
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
frontend web
    bind 127.0.0.1:{port}
    default_backend app
backend app
    balance roundrobin
    http-reuse safe
{servers}
"""


def host_haproxy(workdir: Path, backends: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    servers = "\n".join(f"    server s{i} {addr}" for i, addr in enumerate(backends, 1))
    cfg = workdir / "host-haproxy.cfg"
    cfg.write_text(HOST_CFG.format(port=port, servers=servers))
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}/"


def member_addresses(client: docker.DockerClient, project: Path, env: str, version: str) -> list[str]:
    out = []
    for r in project_containers(client, project, env):
        lab = r.get("Labels") or {}
        if lab.get("io.bakery.role") == "service" and lab.get("io.bakery.image.version") == version:
            nets = (r.get("NetworkSettings") or {}).get("Networks") or {}
            out.extend(f"{n['IPAddress']}:8080" for n in nets.values() if n.get("IPAddress"))
    return sorted(out)


# -- the run ---------------------------------------------------------------------------------
def idle_before(client: docker.DockerClient, image: str, count: int) -> dict[str, float]:
    """``count`` members as the old code started them: engine HEALTHCHECK every 500 ms."""
    label = f"bakery-bench-fleet-{os.getpid()}"
    hc = {"interval": 500_000_000, "timeout": 2_000_000_000, "retries": 2}
    ids = set()
    try:
        for i in range(count):
            c = client.containers.run(image, detach=True, name=f"{label}-{i}", labels={"bakery-bench": label},
                                      healthcheck=hc)
            ids.add(c.id)
        time.sleep(5)
        return engine_cpu(ids, IDLE_SECONDS)
    finally:
        for c in client.containers.list(all=True, filters={"label": f"bakery-bench={label}"}):
            c.remove(force=True)


def main() -> None:
    sizes = [3, 30, 100]
    if "--sizes" in sys.argv:
        sizes = [int(x) for x in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    client = docker.from_env(timeout=300)
    tmp, project = scratch_project("bakery-bench-fleet-")
    os.environ["BAKERY_PROJECT"] = str(project)
    sys.path.insert(0, str(ROOT))
    loads = {"start": load_average()}
    swaps: dict[int, dict[str, float]] = {}
    idle: dict[str, dict[str, float]] = {}
    paths: dict[str, list[dict[str, float]]] = {}
    floors: dict[tuple[int, str], dict[str, float]] = {}  # by (members, network)
    host = None
    try:
        bakery(project, "build", "web", "lb")
        image = "bakery/web:1.0.0"
        set_version(project, "1.1.0")
        bakery(project, "build", "web")
        mark_verified(project, ["1.0.0", "1.1.0"])
        big = max(sizes)
        idle["before"] = idle_before(client, image, BEFORE_MEMBERS)
        loads["idle before"] = load_average()
        print(f"idle {BEFORE_MEMBERS} members, old 500 ms engine check: {idle['before']}", flush=True)
        for n in sizes:
            env = f"fleet{n}"
            port = add_env(project, env, n)
            url = f"http://127.0.0.1:{port}/"
            if n == big:  # the daemons serve every user of the engine: their CPU without this fleet
                idle["baseline"] = engine_cpu(set(), IDLE_SECONDS)
                print(f"engine daemons before the {n}-member fleet: {idle['baseline']}", flush=True)
            first = time.monotonic()
            bakery(project, "rollout", "web", "--env", env, "--image", "1.0.0")
            print(f"{n} replicas: first rollout {time.monotonic() - first:.1f}s", flush=True)
            if n == big:
                ids = {r["Id"] for r in project_containers(client, project, env)}
                time.sleep(5)
                idle["after"] = engine_cpu(ids, IDLE_SECONDS)
                loads["idle after"] = load_average()
                print(f"idle {n} members (+ LB), bakery's defaults: {idle['after']}", flush=True)
            if n == min(sizes):
                member = member_addresses(client, project, env, "1.0.0")
                host, host_url = host_haproxy(tmp, member)
                targets = {"listen: (LB on the host network)": url,
                           "one member, its bridge address": f"http://{member[0]}/",
                           "minimal HAProxy on the host, same backends": host_url}
                for _ in range(ROUNDS):  # interleaved rounds
                    for name, target in targets.items():
                        paths.setdefault(name, []).append(wrk(target, 5))
                loads["paths"] = load_average()
                host.terminate()
                host.wait(timeout=10)
                host = None
            # the engine alone first, as the swap will find it: blue serving under the same load
            settle()
            floors[n, OWN_NETWORK] = engine_floor(client, project, env, "bakery/web:1.1.0", n, url)
            if n == big:  # the same on the default bridge: what the environment's network costs
                settle()
                floors[n, DEFAULT_BRIDGE] = engine_floor(client, project, env, "bakery/web:1.1.0", n, url,
                                                        network="bridge")
            waited = settle()
            swaps[n] = {**timed_swap(project, env, url), "engine": floors[n, OWN_NETWORK]["seconds"]}
            print(f"{n} replicas: swap after {waited:.0f} s settling: {swaps[n]}", flush=True)
            teardown(client, project, env)
    finally:
        if host is not None:
            host.terminate()
            host.wait(timeout=10)
        teardown(client, project)
        shutil.rmtree(tmp, ignore_errors=True)
    report(sizes, idle, swaps, paths, loads, floors)


#: What the numbers of the committed run say (bench/RESULTS.md); rewrite it when they change.
READING = """\
Reading (2026-12-01, 22:00-22:50). The 6x goal held in one of this session's four runs: this
one, 39.3 s against 6.7 s = 5.88x. The others (--sizes 3,100 --no-write except the first): 8.20x
(52.7 / 6.4 s, the first, timed right after two engine-alone runs of 100 and before the settling
wait; 18.5 s beyond the engine's starts), 6.85x (38.5 / 5.6 s) and 8.39x (53.4 / 6.4 s), all with
0 failed. Runs before this session: 5.98, 5.23, 5.50, 4.28 (a quiet afternoon, when bakery's
constant was 1-2 s larger), 7.83 and 11.67x (the evening). The ratio is set by the engine. The
"engine alone" column creates and starts as many members the way bakery does (same image, the
environment's network, 8 at once), with blue serving under the same wrk load, just before the
swap. For 100 members that alone took 5.55x, 5.63x and 6.22x bakery's whole 3-replica swap in
the last three runs: in the third, no change to bakery could reach 6x. A traced 100-replica
swap: 1.8 s from the command to its plan, 37.5 s starting and probing the members (the engine
alone took 36.2 s just before), 1.0 s for HAProxy's checks, the weights and the drain, and 2.3 s
for the rollout report. That is about 6 s beside the engine's starts at 100 replicas and 4-5 s
at 3. So the ratio is (engine starts of 100 + ~6 s) / (engine starts of 3 + ~4.5 s): a smaller
constant makes it larger. Where the engine's time goes (the CPU table): Docker 20.10
re-executes its own binary for each member, once to create its network namespace and again on
a user-defined network to install the embedded DNS rules (which runs iptables). Those
re-executions cost 0.14-0.19 CPU-s per member, 3-4x dockerd's own work and 5-7x containerd's.
`perf record -a` over 40 unloaded starts put the re-executed dockerd at 42-49% of the whole
machine's CPU, mostly Go start-up and garbage collection. On the default bridge the second
re-execution goes (0.07 s): 3.2-3.6 against 2.5-3.2 starts a second under the load, so without
the environment's network the engine alone would have been 4.4-5.6x the 3-replica swap. bakery
keeps the network for isolation. Starting more members at once gives the engine a larger share
of the 2 cores, taken from the traffic: bakery's 100-replica swap took 35.6 and 35.7 s at
`parallelism: 32` against 37.2 and 40.7 s at 8 (interleaved), while wrk got 22-28% fewer
requests through (79-86k against 110-114k); the default stays 8. The idle figure: the engine
itself (dockerd, containerd, shims) spends 5-7% of one core on 100 members plus the LB; the
members' and the LB's own cgroups (HAProxy checking 100 servers every 500 ms, nginx answering)
bring the bench's figure to 8.3-12% above the daemons' baseline across the runs (12.0% in this
one: daemons +1.4, shims 3.2, the containers themselves 7.4). The LB container's own address
is `listen:` itself (host network), so "through listen: vs the LB's own address" is 1.0 by
construction; the member row is one nginx worker.
"""


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def report(sizes: list[int], idle: dict, swaps: dict, paths: dict, loads: dict, floors: dict) -> None:
    big, small = max(sizes), min(sizes)
    lines = ["## Fleets of a hundred and the LB path (issue 13)", "",
             "Command: `.venv/bin/python bench/bench_fleet.py` (a throwaway copy of the project; the",
             "staging definition with its 500 ms health interval, blue/green without canary pauses,",
             f"start_timeout 300 s; 2 cores; load average {loads}).", "",
             f"### Engine CPU with idle members (percent of one core, {IDLE_SECONDS:.0f} s window)", "",
             "| members | dockerd+containerd | shims | containers | total | per member |",
             "|---|---|---|---|---|---|"]
    for key, count, label in (
            ("baseline", 1, "none of the bench's: the engine daemons serving the other helpers"),
            ("before", BEFORE_MEMBERS, f"old: engine HEALTHCHECK every 500 ms, {BEFORE_MEMBERS} members "
             "(100 saturate the 2 cores; see the note in the script)"),
            ("after", big, f"bakery's default now: {big} members, HAProxy's checks only (LB included)")):
        if key in idle:
            r = idle[key]
            per_member = f"{r['total'] / count:.2f}" if key != "baseline" else "-"
            lines.append(f"| {label} | {r['daemons']:.1f} | {r['shims']:.1f} | {r['containers']:.1f} | "
                         f"{r['total']:.1f} | {per_member} |")
    lines += ["", "### Blue/green swap 1.0.0 -> 1.1.0 under load (wrk -t2 -c8 through `listen:`)", "",
              "| replicas | swap s | x the smallest | requests | failed | engine alone: start the "
              "members s | that, x the smallest swap | swap minus that s |",
              "|---|---|---|---|---|---|---|---|"]
    for n in sizes:
        s = swaps[n]
        lines.append(f"| {n} | {s['seconds']:.1f} | {s['seconds'] / swaps[small]['seconds']:.2f} | "
                     f"{s['requests']:.0f} | {s['failed']:.0f} | {s['engine']:.1f} | "
                     f"{s['engine'] / swaps[small]['seconds']:.2f} | {s['seconds'] - s['engine']:.1f} |")
    lines += ["", "### The engine alone: CPU seconds per member start (under the swap's load)", "",
              "| members, network | starts/s | dockerd | dockerd's children (re-executed dockerd, "
              "iptables) | containerd |", "|---|---|---|---|---|"]
    for (count, where), f in floors.items():
        lines.append(f"| {count}, {where} | {count / f['seconds']:.1f} | {f['dockerd']:.3f} | "
                     f"{f['reexec']:.3f} | {f['containerd']:.3f} |")
    lines += ["", f"### Traffic paths ({small} members; wrk -t2 -c32 -d5s --latency, {ROUNDS} interleaved "
              "rounds, "
              "median)", "", "| path | req/s | p99 ms | failed | x listen: |", "|---|---|---|---|---|"]
    listen_rps = _median([r["rps"] for r in paths["listen: (LB on the host network)"]])
    for name, runs in paths.items():
        rps = _median([r["rps"] for r in runs])
        lines.append(f"| {name} | {rps:.0f} | {_median([r['p99_ms'] for r in runs]):.2f} | "
                     f"{sum(r['failed'] for r in runs):.0f} | {rps / listen_rps:.2f} |")
    after, base = idle.get("after", {}), idle.get("baseline", {})
    nan = float("nan")
    own = (after.get("shims", nan) + after.get("containers", nan)
           + max(0.0, after.get("daemons", nan) - base.get("daemons", 0.0)))
    after = {"total": after.get("total", nan)}
    host_rps = _median([r["rps"] for r in paths["minimal HAProxy on the host, same backends"]])
    lines += ["", f"listen: / host HAProxy = {listen_rps / host_rps:.2f} (target >= 0.9); "
              f"{big}-replica swap / {small}-replica swap = "
              f"{swaps[big]['seconds'] / swaps[small]['seconds']:.2f} (target <= 6), "
              f"{swaps[big]['failed']:.0f} failed (target 0); the engine alone starting the {big} "
              f"members = {swaps[big]['engine'] / swaps[small]['seconds']:.2f}x the {small}-replica swap "
              f"({floors[big, DEFAULT_BRIDGE]['seconds'] / swaps[small]['seconds']:.2f}x on the default "
              f"bridge), the lowest ratio bakery could reach with no cost of its own; {big} idle members "
              f"{own:.1f}% of one core (target < 10: their shims and cgroups plus what the daemons "
              f"spent above their baseline; {after['total']:.1f}% with the daemons' whole share).", ""]
    text = "\n".join(lines) + "\n" + READING
    print(text)
    if "--no-write" not in sys.argv:
        write_section(text)


if __name__ == "__main__":
    main()
