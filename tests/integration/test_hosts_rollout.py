"""Rollouts to three real SSH hosts (Docker-in-Docker with sshd, images/host): `bakery hosts
check`, host-key trust, and blue/green, canary and rollback through the real CLI, bakery's real
registry (TLS from its CA, hosts pull by digest) and HAProxy; one environment without a
registry ships by `docker save | docker load` instead.

The hosts and the registry start once for the module (about 30 s) and are shared; traffic goes
only to loopback (the load balancer, the registry) and to the hosts' addresses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakery.build.docker_builder import build
from bakery.engine import labels
from bakery.engine.scope import scope_for
from bakery.hosts.engine import host_engine
from bakery.hosts.keys import known_hosts_path
from bakery.project import Project
from bakery.registry import server
from bakery.rollout.adapters import secret_paths
from bakery.rollout.adapters.ssh import SshRuntime
from bakery.store import builds
from bakery.store.db import open_store
from tests.integration.hosts_support import (
    REGISTRY_NAME,
    SshHosts,
    host_key_fingerprint,
    running_registry,
    ssh_hosts,
)
from tests.integration.rollout_support import (
    Load,
    bakery,
    declare_api_token,
    free_port,
    lb_stats,
    mark_verified,
    scratch_project,
    url,
    version_at,
)

pytestmark = pytest.mark.docker

ENVS = ("hosts", "direct")  # direct: no registry, images by save/load


@pytest.fixture(scope="module")
def fleet(docker_engine, base_image, tmp_path_factory):
    """(project, hosts): web 1.0.0 and 1.1.0 built (verified elsewhere in the suite: marked here),
    env `hosts` running web on the three hosts, and bakery's key authorized on them."""
    work = tmp_path_factory.mktemp("hosts")
    with scratch_project(docker_engine, work / "project", ENVS) as project:
        with ssh_hosts(docker_engine, project, work) as hosts:
            _target(project, "hosts", hosts, registry=f"{REGISTRY_NAME}:{free_port()}")
            _target(project, "direct", hosts, replicas=2, names=("h1", "h2"))
            web_yaml = project.root / "images" / "web" / "image.yaml"
            for version in ("1.0.0", "1.1.0"):
                web_yaml.write_text(web_yaml.read_text().replace("version: 1.0.0", f"version: {version}"))
                mark_verified(project, build(project, project.load_image("web")).record)
            with running_registry(project):
                yield project, hosts


def _target(project: Project, env: str, hosts: SshHosts, replicas: int = 3,
            names: tuple[str, ...] | None = None, registry: str | None = None) -> None:
    path = project.root / "rollouts" / env / "web.yaml"
    text = path.read_text().replace("replicas: 2", f"replicas: {replicas}")
    path.write_text(text + hosts.targets_yaml(names, registry))


def containers_on(project: Project, hosts: SshHosts, names: tuple[str, ...] = ("h1", "h2", "h3"),
                  env: str = "hosts") -> dict[str, list[str]]:
    """Per host, the running web members of ``env`` its engine has: "colour version"."""
    out = {}
    for h in project.load_rollout(env, "web").targets.hosts:
        if h.name not in names:
            continue
        client = host_engine(h, project.state_dir)
        try:
            out[h.name] = sorted(f"{c.labels[labels.COLOUR]} {c.labels[labels.IMAGE_VERSION]}"
                                 for c in client.containers.list(filters={"label": [
                                     labels.COLOUR, f"{labels.ENV}={env}"]}))
        finally:
            client.close()
    return out


def test_hosts_check_records_first_contact_and_refuses_a_changed_key(fleet, docker_engine):
    project, hosts = fleet
    # Never seen: a rollout refuses every host (nothing changes) and says what to run.
    unseen = bakery(project, "rollout", "web", "--env", "hosts", "--image", "1.0.0")
    assert unseen.exit_code == 1 and "cannot place any replica: no host answers" in unseen.stderr
    assert "is not in" in unseen.stderr and "run `bakery hosts check ENV`" in unseen.stderr
    assert not (project.state_dir / "hosts" / "known_hosts").exists()
    first = bakery(project, "hosts", "check", "hosts")
    assert first.exit_code == 0, first.output
    for h in hosts.hosts:
        assert f"first contact with {h.name}" in first.output
        # What bakery recorded is the key the host really has (read out of band).
        assert host_key_fingerprint(docker_engine, h.container) in first.output
    facts = json.loads(bakery(project, "hosts", "check", "hosts", "--json").stdout)
    assert [f["first_contact"] for f in facts] == [[], [], []]  # known now: nothing recorded again
    registry = project.load_rollout("hosts", "web").targets.registry.address
    for f in facts:
        assert f["os"].startswith("Debian GNU/Linux 12") and f["docker"].startswith("20.10")
        assert f["free_mib"] > 100 and abs(f["skew"]) < 5 and f["problems"] == []
        assert f["registries"] == {registry: "ok"}  # each host reaches bakery's running registry

    # A changed key (here: h2's recorded key replaced by h1's) is refused, by check and by rollout.
    known = known_hosts_path(project.state_dir)
    saved = known.read_text()
    lines = saved.splitlines()
    h1 = next(line for line in lines if line.startswith(hosts.hosts[0].address + " "))
    forged = [line for line in lines if not line.startswith(hosts.hosts[1].address + " ")]
    forged.append(hosts.hosts[1].address + " " + h1.split(" ", 1)[1])
    known.write_text("\n".join(forged) + "\n")
    try:
        refused = bakery(project, "hosts", "check", "hosts", "--json")
        assert refused.exit_code == 1
        problems = {f["host"]: " ".join(f["problems"]) for f in json.loads(refused.stdout)}
        assert "the host key CHANGED" in problems["h2"] and not problems["h1"] and not problems["h3"]
    finally:
        known.write_text(saved)


def test_unreachable_host_low_disk_and_no_registry_fail_the_check_clearly(fleet):
    project, hosts = fleet
    path = project.root / "rollouts" / "hosts" / "web.yaml"
    saved = path.read_text()
    gone = hosts.hosts[2].address.rsplit(".", 1)[0] + ".250"
    registry = project.load_rollout("hosts", "web").targets.registry.address
    closed = f"{REGISTRY_NAME}:{free_port()}"  # the registry's name, a port nothing listens on
    try:
        path.write_text(saved.replace(hosts.hosts[2].address, gone).replace(registry, closed)
                        .replace("min_free_disk: 100", "min_free_disk: 9000000"))
        result = bakery(project, "hosts", "check", "hosts", "--json")
        assert result.exit_code == 1
        problems = {f["host"]: " ".join(f["problems"]) for f in json.loads(result.stdout)}
        assert "is unreachable over SSH" in problems["h3"]
        assert "MiB free for Docker, needs 9000000 MiB" in problems["h1"]
        assert f"cannot reach the registry {closed}" in problems["h2"]
        assert "3 of 3 host(s) of hosts cannot take a fleet" in result.stderr
    finally:
        path.write_text(saved)


def test_rollout_canary_and_rollback_across_three_hosts(fleet, docker_engine):
    project, hosts = fleet
    assert bakery(project, "hosts", "check", "hosts").exit_code == 0  # known hosts, as a user would
    first = bakery(project, "rollout", "web", "--env", "hosts", "--image", "1.0.0")
    assert first.exit_code == 0, first.output
    assert version_at(project, "hosts") == "1.0.0"
    # Through the registry: pushed once, every host pulled it by digest and trusts bakery's CA.
    assert "pushing web 1.0.0 to the registry" in first.output
    said = " ".join(first.output.split())  # the console wraps long lines
    assert said.count("pulls web 1.0.0 by digest sha256:") == 3
    assert "docker save" not in first.output
    address = project.load_rollout("hosts", "web").targets.registry.address
    ca = (project.state_dir / "registry" / "ca.crt").read_text()
    verified = next(r for r in builds_of(project, "web") if r.version == "1.0.0").image_id
    for h in hosts.hosts:
        inside = docker_engine.containers.get(h.container)
        assert inside.exec_run(["cat", f"/etc/docker/certs.d/{address}/ca.crt"]).output.decode() == ca
        # The host holds the verified image (same id) under the registry's digest, and no tag.
        found = inside.exec_run(["docker", "image", "inspect", "--format", "{{json .}}", verified])
        assert found.exit_code == 0, found.output
        image = json.loads(found.output)
        assert [d.split("@")[0] for d in image["RepoDigests"]] == [f"{address}/bakery/web"]
        assert image["RepoTags"] == []
    # Spread: one member on each host, each on a host port HAProxy reaches.
    assert containers_on(project, hosts) == {h.name: ["blue 1.0.0"] for h in hosts.hosts}
    stats = lb_stats(project, "hosts").values()
    addrs = {s.addr.split(":")[0] for s in stats if s.colour == "blue" and not s.in_maint}
    assert addrs == {h.address for h in hosts.hosts}

    with Load(url(project, "hosts")) as load:
        time.sleep(0.3)
        canary = bakery(project, "rollout", "web", "--env", "hosts", "--image", "1.1.0", "--canary", "--json")
        time.sleep(0.3)
    assert canary.exit_code == 0, canary.output
    events = [json.loads(line) for line in canary.output.splitlines() if line.startswith('{"event"')]
    verdicts = [(e["weight"], e["outcome"]) for e in events if e["event"] == "verdict"]
    assert verdicts == [(10, "pass"), (50, "pass")]
    assert version_at(project, "hosts") == "1.1.0"
    assert load.codes and set(load.codes) == {200}, f"failed: {[c for c in load.codes if c != 200]}"
    assert containers_on(project, hosts) == {h.name: ["blue 1.0.0", "green 1.1.0"] for h in hosts.hosts}

    status = json.loads(bakery(project, "status", "--env", "hosts", "--json").output)["services"][0]
    assert status["live"]["version"] == "1.1.0" and status["standby"]["version"] == "1.0.0"
    members = [m["name"] for f in status["fleets"] for m in f["members"]]
    assert {m.split("/")[0] for m in members} == {"h1", "h2", "h3"}  # per-host members

    with Load(url(project, "hosts")) as load:
        time.sleep(0.3)
        back = bakery(project, "rollback", "web", "--env", "hosts")
        time.sleep(0.3)
    assert back.exit_code == 0, back.output
    assert version_at(project, "hosts") == "1.0.0"
    assert load.codes and set(load.codes) == {200}, f"failed: {[c for c in load.codes if c != 200]}"


def builds_of(project: Project, name: str) -> list[builds.BuildRecord]:
    conn = open_store(project)
    try:
        return builds.find(conn, name)
    finally:
        conn.close()


def test_an_image_the_registry_holds_under_another_content_is_refused(fleet, docker_engine):
    """Web 1.2.0's immutable tag in the registry is made to hold 1.0.0's content (as a tampered
    registry would): every host pulls it by that digest, its image id is not the verified build's,
    and the rollout fails before any traffic change."""
    project, hosts = fleet
    live = version_at(project, "hosts")
    web_yaml = project.root / "images" / "web" / "image.yaml"
    web_yaml.write_text(web_yaml.read_text().replace("version: 1.1.0", "version: 1.2.0"))
    rec = build(project, project.load_image("web")).record
    mark_verified(project, rec)
    port = server.running(project.state_dir).port
    other = next(r for r in builds_of(project, "web") if r.version == "1.0.0")
    repo = f"127.0.0.1:{port}/bakery/web"
    docker_engine.images.get(other.image_id).tag(repo, f"fp-{rec.fingerprint}")
    try:
        pushed = list(docker_engine.api.push(repo, f"fp-{rec.fingerprint}", stream=True, decode=True))
        assert not [e for e in pushed if "error" in e], pushed
    finally:
        docker_engine.images.remove(f"{repo}:fp-{rec.fingerprint}", noprune=True)
    before = {k: (s.weight, s.addr) for k, s in lb_stats(project, "hosts").items()}
    refused = bakery(project, "rollout", "web", "--env", "hosts", "--image", "1.2.0")
    assert refused.exit_code == 1, refused.output
    assert "not the verified build" in refused.output and "refusing that host" in refused.output
    assert "pushing web 1.2.0" not in refused.output  # the registry had the tag: nothing pushed
    assert version_at(project, "hosts") == live
    assert {k: (s.weight, s.addr) for k, s in lb_stats(project, "hosts").items()} == before
    assert all("1.2.0" not in " ".join(m) for m in containers_on(project, hosts).values())


def test_without_a_registry_images_go_by_save_and_load(fleet, docker_engine, monkeypatch):
    """The fallback: env `direct` names no registry, so the image is streamed to h1 and h2 by
    `docker save | docker load` over SSH (they hold it by digest only, not by bakery's tag).
    Its secret reaches each member as /run/secrets/API_TOKEN, written on the host over SSH,
    never in what `docker inspect` shows; removing the fleet removes the files there."""
    project, hosts = fleet
    value = declare_api_token(project, "direct", monkeypatch)
    done = bakery(project, "rollout", "web", "--env", "direct", "--image", "1.1.0")
    assert done.exit_code == 0, done.output
    assert " ".join(done.output.split()).count("(docker save | docker load over SSH)") == 2
    assert "by digest" not in done.output
    assert version_at(project, "direct") == "1.1.0"
    assert containers_on(project, hosts, ("h1", "h2"), env="direct") == {
        "h1": ["blue 1.1.0"], "h2": ["blue 1.1.0"]}
    defn = project.load_rollout("direct", "web")
    runtime = SshRuntime(defn.targets, project.state_dir)
    (blue,) = runtime.list_fleets(scope_for(project, "direct", "web"))
    folder = secret_paths.rollout_dir(secret_paths.HOST_ROOT, scope_for(project, "direct", "web").slug,
                                      blue.rollout_id)
    for member in blue.members:
        host, _, cid = member.container_id.partition("/")
        inside = docker_engine.containers.get(next(h.container for h in hosts.hosts if h.name == host))
        read = inside.exec_run(["docker", "exec", cid, "cat", "/run/secrets/API_TOKEN"])
        assert read.exit_code == 0 and read.output.decode() == value
        shown = inside.exec_run(["docker", "inspect", cid])
        assert shown.exit_code == 0 and value not in shown.output.decode()
        assert inside.exec_run(["stat", "-c", "%a", folder]).output.decode().strip() == "700"
    runtime.remove_fleet(blue)
    for h in hosts.hosts[:2]:
        assert docker_engine.containers.get(h.container).exec_run(["test", "-e", folder]).exit_code == 1


def test_a_host_killed_mid_canary_aborts_to_blue_on_the_hosts_that_answer(fleet, docker_engine):
    """Runs last: it kills h3. The canary's probe to h3's member fails, h3 is found not to answer
    and the run stops: traffic goes back to blue, green is removed from h1 and h2, and h3 is
    reported; the load sees at most the one request it had in flight on h3."""
    project, hosts = fleet
    assert bakery(project, "hosts", "check", "hosts").exit_code == 0
    if not any("blue 1.0.0" in members for members in containers_on(project, hosts).values()):
        # Run alone: start from 1.0.0 on every host, as the test before leaves it.
        assert bakery(project, "rollout", "web", "--env", "hosts", "--image", "1.0.0").exit_code == 0
    cli = Path(sys.executable).parent / "bakery"
    with Load(url(project, "hosts")) as load:
        proc = subprocess.Popen([str(cli), "--project", str(project.root), "rollout", "web", "--env", "hosts",
                                 "--image", "1.1.0", "--canary", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith('{"event": "weights"') and json.loads(line).get("green_percent") == 10:
                docker_engine.containers.get(hosts.hosts[2].container).kill()
        proc.wait(timeout=300)
        time.sleep(0.5)
    output = "".join(lines)
    assert proc.returncode == 1, output
    assert "h3" in output and "does not answer" in output
    assert version_at(project, "hosts") == "1.0.0", output
    left = containers_on(project, hosts, ("h1", "h2"))
    assert left == {"h1": ["blue 1.0.0"], "h2": ["blue 1.0.0"]}, output
    failed = [c for c in load.codes if c != 200]
    assert load.codes and len(failed) <= 1, f"failed answers: {failed}\n{output}"
    status = json.loads(bakery(project, "status", "--env", "hosts", "--json").stdout)["services"][0]
    assert status["live"]["version"] == "1.0.0"
