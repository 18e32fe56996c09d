"""Rollouts to a real three-node Docker Swarm (Docker-in-Docker hosts with sshd, images/host):
first rollout, canary pass, manual rollback, a bad canary rolled back, secrets only as files, a
killed task replaced, a drained node, through the real CLI and HAProxy.

The cluster starts once for the module and is shared; the tests run in order on its state.
bakery reaches the manager only over SSH, through the adapter; the tests inspect the cluster
through the same adapter (``SwarmRuntime``). Traffic goes only to loopback (the load balancer)
and to the nodes' addresses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakery.build.docker_builder import build
from bakery.engine import labels
from bakery.engine.scope import scope_for
from bakery.project import Project
from bakery.rollout.adapters.swarm import SwarmRuntime
from tests.integration.hosts_support import REGISTRY_NAME, running_registry
from tests.integration.rollout_support import (
    Load,
    bakery,
    free_port,
    lb_stats,
    mark_verified,
    scratch_project,
    url,
    version_at,
)
from tests.integration.swarm_support import swarm_cluster

pytestmark = pytest.mark.docker

ENV = "swarm"
SECRET = "swarm-test-value-7Qz3kV"


@pytest.fixture(scope="module")
def cluster(docker_engine, base_image, tmp_path_factory):
    """(project, cluster): web 1.0.0, 1.1.0 and web-bad built (verified elsewhere in the suite:
    marked here), env `swarm` running web as 3 replicas on the 3-node Swarm with one secret."""
    work = tmp_path_factory.mktemp("swarm")
    saved = os.environ.get("BAKERY_SECRET_API_TOKEN")
    os.environ["BAKERY_SECRET_API_TOKEN"] = SECRET
    try:
        with scratch_project(docker_engine, work / "project", (ENV,)) as project, \
                swarm_cluster(docker_engine, project, work) as swarm:
            path = project.root / "rollouts" / ENV / "web.yaml"
            text = path.read_text().replace("replicas: 2", "replicas: 3")
            registry = f"{REGISTRY_NAME}:{free_port()}"
            path.write_text(text + "secrets: [API_TOKEN]\n" + swarm.targets_yaml(registry=registry))
            web_yaml = project.root / "images" / "web" / "image.yaml"
            for version in ("1.0.0", "1.1.0"):
                web_yaml.write_text(web_yaml.read_text().replace("version: 1.0.0", f"version: {version}"))
                mark_verified(project, build(project, project.load_image("web")).record)
            mark_verified(project, build(project, project.load_image("web-bad")).record)
            with running_registry(project):
                # first contact, as a user would (after `registry up`: the check probes it too)
                checked = bakery(project, "hosts", "check", ENV)
                assert checked.exit_code == 0, checked.output
                yield project, swarm
    finally:
        if saved is None:
            os.environ.pop("BAKERY_SECRET_API_TOKEN", None)
        else:
            os.environ["BAKERY_SECRET_API_TOKEN"] = saved


def runtime(project: Project) -> SwarmRuntime:
    return SwarmRuntime(project.load_rollout(ENV, "web").targets, project.state_dir)


def services(project: Project) -> dict[str, str]:
    """Swarm service name -> "colour version", read from the manager through the adapter."""
    rt = runtime(project)
    return {s["Spec"]["Name"]: "{} {}".format(s["Spec"]["Labels"][labels.COLOUR],
                                               s["Spec"]["Labels"][labels.IMAGE_VERSION])
            for s in rt.services(scope_for(project, ENV, "web"))}


def live_fleet(project: Project):
    rt = runtime(project)
    fleets = rt.list_fleets(scope_for(project, ENV, "web"))
    return rt, fleets


def blue_tasks(project: Project) -> set[str]:
    return {m.container_id for f in live_fleet(project)[1] if f.colour == "blue" for m in f.members}


def wait_for(check, timeout: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.5)


def lb_addresses(project: Project, colour: str) -> set[str]:
    return {s.addr for s in lb_stats(project, ENV).values() if s.colour == colour and not s.in_maint}


def member_addresses(project: Project, colour: str) -> set[str]:
    _, fleets = live_fleet(project)
    return {f"{m.ip}:{m.port}" for f in fleets if f.colour == colour
            for m in f.members if m.status == "running"}


def set_availability(rt: SwarmRuntime, node_id: str, availability: str) -> None:
    """`docker node update --availability ...`, through the adapter's manager client."""
    spec = rt.manager.api.inspect_node(node_id)
    new = {**spec["Spec"], "Availability": availability}
    rt.manager.api.update_node(node_id, spec["Version"]["Index"], new)


def test_first_rollout_spreads_tasks_and_delivers_secrets_only_as_files(cluster):
    project, swarm = cluster
    first = bakery(project, "rollout", "web", "--env", ENV, "--image", "1.0.0")
    assert first.exit_code == 0, first.output
    assert version_at(project, ENV) == "1.0.0"
    assert services(project) == {f"web-{ENV}-blue": "blue 1.0.0"}
    rt, fleets = live_fleet(project)
    (blue,) = fleets
    # Created from the registry by digest (every node pulled it and had its image id checked).
    (service,) = rt.services(scope_for(project, ENV, "web"))
    image = service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    address = project.load_rollout(ENV, "web").targets.registry.address
    assert image.startswith(f"{address}/bakery/web@sha256:"), image
    # One task per node (spread by the zone label), each on its own host-mode port HAProxy reaches.
    assert sorted(m.name.split("/")[0] for m in blue.members) == ["h1", "h2", "h3"]
    assert lb_addresses(project, "blue") == {f"{m.ip}:{m.port}" for m in blue.members}

    # The secret: a file under /run/secrets/ in every task, and nowhere in what Docker shows.
    scope = scope_for(project, ENV, "web")
    tasks = rt.tasks(rt.services(scope))
    assert tasks and all(SECRET not in json.dumps(t) for t in tasks)
    for mb in blue.members:
        host = rt.hosts.host(mb.name.split("/")[0])
        container = rt.hosts.client(host).containers.get(mb.container_id.split(":")[1])
        assert SECRET not in json.dumps(container.attrs)
        assert not any(e.startswith("API_TOKEN") for e in container.attrs["Config"]["Env"] or [])
        # Read by the test from inside the task (the app's view; the archive API does not see the
        # secrets tmpfs). bakery itself never execs into a member.
        assert container.exec_run(["cat", "/run/secrets/API_TOKEN"]).output.decode() == SECRET
    secrets = rt.manager.api.secrets(filters={"label": [f"{labels.ROLLOUT_ID}={blue.rollout_id}"]})
    assert [s["Spec"]["Name"] for s in secrets] == [f"web-{ENV}-{blue.rollout_id[-8:]}-API_TOKEN"]


def test_canary_passes_under_load_then_manual_rollback(cluster):
    project, _ = cluster
    with Load(url(project, ENV)) as load:
        time.sleep(0.3)
        canary = bakery(project, "rollout", "web", "--env", ENV, "--image", "1.1.0", "--canary", "--json")
        time.sleep(0.3)
    assert canary.exit_code == 0, canary.output
    events = [json.loads(line) for line in canary.output.splitlines() if line.startswith('{"event"')]
    verdicts = [(e["weight"], e["outcome"]) for e in events if e["event"] == "verdict"]
    assert verdicts == [(10, "pass"), (50, "pass")]
    assert version_at(project, ENV) == "1.1.0"
    assert load.codes and set(load.codes) == {200}, f"failed: {[c for c in load.codes if c != 200]}"
    # A new service for green; blue's service is kept (not updated) for the rollback window.
    assert services(project) == {f"web-{ENV}-blue": "blue 1.0.0", f"web-{ENV}-green": "green 1.1.0"}
    blue_before = blue_tasks(project)

    with Load(url(project, ENV)) as load:
        time.sleep(0.3)
        back = bakery(project, "rollback", "web", "--env", ENV)
        time.sleep(0.3)
    assert back.exit_code == 0, back.output
    assert version_at(project, ENV) == "1.0.0"
    assert load.codes and set(load.codes) == {200}, f"failed: {[c for c in load.codes if c != 200]}"
    # The fleet rolled back to is the same tasks, untouched.
    assert blue_tasks(project) == blue_before


def test_bad_canary_is_rolled_back_and_its_service_and_secrets_removed(cluster):
    project, _ = cluster
    with Load(url(project, ENV)) as load:
        bad = bakery(project, "rollout", "web", "--env", ENV, "--image", "web-bad:1.0.0", "--canary")
    assert bad.exit_code == 1, bad.output
    assert version_at(project, ENV) == "1.0.0"
    assert f"web-{ENV}-green" not in services(project)  # the bad canary's service is gone
    rt = runtime(project)
    assert all(s["Spec"]["Labels"].get(labels.ROLLOUT_ID) in
               {f.rollout_id for f in rt.list_fleets(scope_for(project, ENV, "web"))}
               for s in rt.manager.api.secrets())  # its secret went with it
    # The canary's 10% saw its 500s; blue's share never failed.
    assert load.codes and load.codes.count(200) > 0.8 * len(load.codes)


def test_a_killed_task_is_replaced_by_swarm_and_re_enlisted(cluster):
    project, _ = cluster
    rt, fleets = live_fleet(project)
    (blue,) = [f for f in fleets if f.colour == "blue"]
    victim = blue.members[0]
    host = rt.hosts.host(victim.name.split("/")[0])
    with Load(url(project, ENV)) as load:
        rt.hosts.client(host).containers.get(victim.container_id.split(":")[1]).kill()
        # Swarm starts a replacement in the same slot, from the same image, on a new port.
        wait_for(lambda: all(m.status == "running" and m.container_id != victim.container_id
                             for f in live_fleet(project)[1] if f.colour == "blue" for m in f.members
                             if m.index == victim.index), what="the replacement task")
        status = json.loads(bakery(project, "status", "--env", ENV, "--json").stdout)["services"][0]
        (row,) = [r for r in status["swarm"] if r["colour"] == "blue"]
        assert (row["desired"], row["running"]) == (3, 3)
        # A repair run (rollout of the live version) points the slot at the replacement.
        repair = bakery(project, "rollout", "web", "--env", ENV, "--image", "1.0.0")
        assert repair.exit_code == 0, repair.output
    assert lb_addresses(project, "blue") == member_addresses(project, "blue")
    failed = [c for c in load.codes if c != 200]
    assert load.codes and not failed, f"failed answers: {failed}"
    (replacement,) = [m for f in live_fleet(project)[1] if f.colour == "blue" for m in f.members
                      if m.index == victim.index]
    assert replacement.container_id != victim.container_id


def test_a_node_drained_mid_canary_moves_tasks_and_loses_no_request(cluster):
    """h3 drained once the canary holds 10%: Swarm moves the tasks of both colours off it without
    bakery touching a service, HAProxy's check and the canary's probe follow them, and the canary
    is judged on the moved tasks and promoted."""
    project, _ = cluster
    rt = runtime(project)
    (node,) = [n for n in rt.nodes().values() if n.hostname == "h3"]
    cli = Path(sys.executable).parent / "bakery"
    lines: list[str] = []
    with Load(url(project, ENV)) as load:
        proc = subprocess.Popen([str(cli), "--project", str(project.root), "rollout", "web", "--env", ENV,
                                 "--image", "1.1.0", "--canary", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                lines.append(line)
                if line.startswith('{"event": "weights"') and json.loads(line).get("green_percent") == 10:
                    set_availability(rt, node.id, "drain")
            proc.wait(timeout=300)
            output = "".join(lines)
            assert proc.returncode == 0, output
            assert version_at(project, ENV) == "1.1.0"
            running = [m.name.split("/")[0] for f in live_fleet(project)[1] if f.colour == "green"
                       for m in f.members if m.status == "running"]
            assert len(running) == 3 and "h3" not in running, output
            assert "re-enlisted tasks Swarm moved" in output, output
            assert lb_addresses(project, "green") == member_addresses(project, "green"), output
            status = json.loads(bakery(project, "status", "--env", ENV, "--json").stdout)["services"][0]
            (row,) = [r for r in status["swarm"] if r["colour"] == "green"]
            assert row["running"] == 3 and row["nodes"].get("h3", {"running": 0})["running"] == 0
        finally:
            set_availability(rt, node.id, "active")
    failed = [c for c in load.codes if c != 200]
    assert load.codes and not failed, f"failed answers: {failed}"
