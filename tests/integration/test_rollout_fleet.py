"""Fleets at rest and the LB path, against the real engine and HAProxy: members started many at
once without an engine healthcheck, the LB on the host network bound to exactly `listen:` (two
environments side by side), a member that hangs or dies still seen, a taken `listen:` named, a
serving balancer given more slots than it started with, without a restart."""

from __future__ import annotations

import json
import socket

import pytest
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from bakery.build.docker_builder import build
from bakery.engine import labels
from bakery.engine.scope import scope_for
from bakery.project import Project
from bakery.rollout.adapters.startup import PROBE_LABEL
from tests.integration.rollout_support import (
    Load,
    bakery,
    lb_stats,
    mark_verified,
    scratch_project,
    url,
    version_at,
)

ENVS = ("wide", "beside", "taken")


@pytest.fixture(scope="module")
def fp(docker_engine, base_image, tmp_path_factory):
    with scratch_project(docker_engine, tmp_path_factory.mktemp("fleet") / "project", ENVS) as project:
        wide = project.root / "rollouts" / "wide" / "web.yaml"
        wide.write_text(wide.read_text().replace("replicas: 2", "replicas: 6\nparallelism: 3"))
        # The same definition passes `bakery verify` for real in test_rollout_paths.py.
        mark_verified(project, build(project, project.load_image("web")).record)
        web_yaml = project.images_dir / "web" / "image.yaml"
        web_yaml.write_text(web_yaml.read_text().replace("version: 1.0.0", "version: 1.1.0"))
        mark_verified(project, build(project, project.load_image("web")).record)
        yield project


def members(docker_engine, project: Project, env: str) -> list:
    scope = scope_for(project, env, "web")
    return docker_engine.containers.list(all=True, filters={"label": scope.label_filter("service")})


def status_of(project: Project, env: str) -> dict:
    return json.loads(bakery(project, "status", "--env", env, "--json").output)["services"][0]


def test_a_fleet_starts_without_engine_checks_behind_an_lb_bound_to_listen(fp, docker_engine):
    project = fp
    for env in ("wide", "beside"):  # two environments, two LBs on the host network, no collision
        result = bakery(project, "rollout", "web", "--env", env, "--image", "1.0.0")
        assert result.exit_code == 0, result.output
    for env in ("wide", "beside"):
        assert version_at(project, env) == "1.0.0"
        lb = docker_engine.containers.get(scope_for(project, env, "web").lb_container)
        assert lb.attrs["HostConfig"]["NetworkMode"] == "host"
        assert not lb.attrs["HostConfig"].get("PortBindings")  # no docker-proxy on the path
        assert lb.labels["io.bakery.listen"] == project.load_rollout(env, "web").listen
    wide = members(docker_engine, project, "wide")
    assert len(wide) == 6
    for c in wide:
        assert c.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]  # nothing exec'd at rest
        assert json.loads(c.labels[PROBE_LABEL])["path"] == "/healthz"
        assert "Health" not in c.attrs["State"]
    assert {c.labels[labels.COLOUR] for c in wide} == {"blue"}
    assert status_of(project, "wide")["live"]["healthy"] is True


def test_a_member_that_hangs_or_dies_is_still_seen(fp, docker_engine):
    project = fp
    wide = sorted(members(docker_engine, project, "wide"), key=lambda c: int(c.labels["io.bakery.slot"]))
    hung, dead = wide[0], wide[1]
    hung.pause()
    dead.kill()
    try:
        def both_down(stats: dict) -> bool:
            return stats["blue1"].status.startswith("DOWN") and stats["blue2"].status.startswith("DOWN")

        # HAProxy's own checks notice them (fall 2 x 500 ms); the bound only guards a stuck run.
        stats = Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.5),
                         retry=retry_if_result(lambda s: not both_down(s)),
                         retry_error_callback=lambda state: state.outcome.result())(
            lambda: lb_stats(project, "wide"))
        assert stats["blue1"].status.startswith("DOWN") and stats["blue2"].status.startswith("DOWN")
        assert all(stats[f"blue{i}"].status.startswith("UP") for i in range(3, 7))
        status = status_of(project, "wide")
        assert status["live"]["healthy"] is False
        states = {mb["index"]: mb["status"] for f in status["fleets"] for mb in f["members"]}
        assert states[2] == "exited"
        assert version_at(project, "wide") == "1.0.0"  # the rest serve on
    finally:
        hung.unpause()


def test_a_listen_address_that_is_taken_is_named(fp):
    project = fp
    listen = project.load_rollout("taken", "web").listen
    host, port = listen.rsplit(":", 1)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((host, int(port)))
        holder.listen()
        result = bakery(project, "rollout", "web", "--env", "taken", "--image", "1.0.0")
    assert result.exit_code != 0
    assert f"{listen} is taken" in result.output, result.output


def test_a_serving_balancer_grows_past_its_slots_without_a_restart(fp, docker_engine):
    """`beside` serves 1.0.0 on 2 of the 20 slots its LB started with; 22 replicas of 1.1.0 need
    22: the missing slots are added through the runtime API while requests flow."""
    project = fp
    scope = scope_for(project, "beside", "web")
    lb_before = docker_engine.containers.get(scope.lb_container)
    assert lb_before.labels["io.bakery.lb.slots"] == "20"
    path = project.root / "rollouts" / "beside" / "web.yaml"
    path.write_text(path.read_text().replace("replicas: 2", "replicas: 22"))
    with Load(url(project, "beside")) as load:
        result = bakery(project, "rollout", "web", "--env", "beside", "--image", "1.1.0")
    assert result.exit_code == 0, result.output
    assert "server slot(s) to the running load balancer" in result.output
    assert version_at(project, "beside") == "1.1.0"
    lb_after = docker_engine.containers.get(scope.lb_container)
    assert lb_after.id == lb_before.id and lb_after.attrs["State"]["StartedAt"] == \
        lb_before.attrs["State"]["StartedAt"]  # the same HAProxy process: never restarted
    stats = lb_stats(project, "beside")
    serving = [name for name, s in stats.items() if name.startswith("green") and s.weight > 0]
    assert len(serving) == 22 and all(stats[n].status.startswith("UP") for n in serving)
    assert {"green21", "green22", "blue21", "blue22"} <= set(stats)
    assert load.codes and set(load.codes) == {200}, f"{len(load.codes)} requests, not all 200"
