"""Rollouts under faults (restarted LB, kill -9 mid-drain, a changed listen, no rollback target)
against the real engine and HAProxy.

One tmp project for the module (web 1.0.0 and 1.1.0 built, web-bad for a failing canary);
each test has its own environment, so its own LB, network and port.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from bakery.build.docker_builder import build
from bakery.engine import labels
from bakery.engine.scope import PROJECT_LABEL, scope_for
from bakery.project import Project
from bakery.store import builds
from bakery.store.db import connect
from tests.integration.rollout_support import (
    Load,
    bakery,
    free_port,
    lb_stats,
    mark_verified,
    run_killed_at,
    scratch_project,
    version_at,
)

ENVS = ("lbrestart", "failedcanary", "crash", "listen")

def killed_at(project: Project, target: str, nth: int, *args: str) -> None:
    proc = run_killed_at(project.root, target, nth, *args)
    assert proc.returncode == -9, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def ap(docker_engine, base_image, tmp_path_factory):
    with scratch_project(docker_engine, tmp_path_factory.mktemp("audit") / "project", ENVS) as project:
        root = project.root
        window = root / "rollouts" / "failedcanary" / "web.yaml"
        window.write_text(window.read_text().replace("keep_previous: 30m", "keep_previous: 2s"))
        recs = [build(project, project.load_image("web")).record]
        web_yaml = root / "images" / "web" / "image.yaml"
        web_yaml.write_text(web_yaml.read_text().replace("version: 1.0.0", "version: 1.1.0"))
        recs.append(build(project, project.load_image("web")).record)
        recs.append(build(project, project.load_image("web-bad")).record)
        # These exact definitions pass `bakery verify` for real in test_rollout_paths.py; here the
        # result is recorded without running testinfra again, to keep this module lean. (The LB
        # image is still verified for real by the first rollout.)
        for rec in recs:
            mark_verified(project, rec)
        yield project


def fleets_snapshot(docker_engine, project: Project, env: str) -> dict[str, tuple]:
    """Invariant 1 evidence: id -> (version, StartedAt, RestartCount, status)."""
    scope = scope_for(project, env, "web")
    return {c.id: (c.labels[labels.IMAGE_VERSION], c.attrs["State"]["StartedAt"], c.attrs["RestartCount"],
                   c.status)
            for c in docker_engine.containers.list(all=True,
                                                   filters={"label": scope.label_filter("service")})}


def test_lb_restart_puts_the_live_fleet_back_without_touching_it(ap, docker_engine):
    """HAProxy's addresses and weights live in memory: a restarted LB has no server in rotation.
    The next rollout of the live image re-attaches the live fleet (journal + labels) and is then
    a no-op; the kept previous fleet stays, so a rollback still works."""
    project = ap
    assert bakery(project, "rollout", "web", "--env", "lbrestart", "--image", "1.0.0").exit_code == 0
    assert bakery(project, "rollout", "web", "--env", "lbrestart", "--image", "1.1.0").exit_code == 0
    before = fleets_snapshot(docker_engine, project, "lbrestart")
    docker_engine.containers.get(scope_for(project, "lbrestart", "web").lb_container).restart(timeout=2)

    status = json.loads(bakery(project, "status", "--env", "lbrestart", "--json").output)["services"][0]
    assert status["live"] is None
    assert status["detached"]["version"] == "1.1.0" and status["detached"]["running"]
    plan = bakery(project, "rollout", "web", "--env", "lbrestart", "--image", "1.1.0", "--plan")
    assert plan.exit_code == 0
    assert "put back in rotation first" in plan.output and "already live" in plan.output

    again = bakery(project, "rollout", "web", "--env", "lbrestart", "--image", "1.1.0")
    assert again.exit_code == 0, again.output
    assert "putting it back in rotation" in again.output and "already live" in again.output
    assert version_at(project, "lbrestart") == "1.1.0"
    assert fleets_snapshot(docker_engine, project, "lbrestart") == before  # nothing started/stopped/removed
    status = json.loads(bakery(project, "status", "--env", "lbrestart", "--json").output)["services"][0]
    assert status["live"]["version"] == "1.1.0" and status["standby"]["version"] == "1.0.0"
    assert status["detached"] is None

    back = bakery(project, "rollback", "web", "--env", "lbrestart")
    assert back.exit_code == 0, back.output
    assert version_at(project, "lbrestart") == "1.0.0"
    assert fleets_snapshot(docker_engine, project, "lbrestart") == before

    # An engine restart stops everything (no restart policy): LB and both fleets. A rollback
    # starts the LB, puts the live fleet (1.0.0) back, then goes to the previous one (1.1.0).
    scope = scope_for(project, "lbrestart", "web")
    for c in docker_engine.containers.list(filters={"label": f"{PROJECT_LABEL}={scope.project_id}"}):
        if c.labels.get(labels.ENV) == "lbrestart":
            c.stop(timeout=1)
    forward = bakery(project, "rollback", "web", "--env", "lbrestart")
    assert forward.exit_code == 0, forward.output
    assert "putting it back in rotation" in forward.output
    assert version_at(project, "lbrestart") == "1.1.0"


def test_listen_changed_while_live_is_reported_and_the_real_url_printed(ap):
    """`listen:` is not in haproxy.cfg (the engine publishes the frontend), so a change went
    unnoticed: the serving LB kept its port while bakery printed the new, dead URL."""
    project = ap
    assert bakery(project, "rollout", "web", "--env", "listen", "--image", "1.0.0").exit_code == 0
    path = project.rollout_path("listen", "web")
    old = project.load_rollout("listen", "web").listen
    path.write_text(path.read_text().replace(f"listen: {old}", f"listen: 127.0.0.1:{free_port()}"))
    result = bakery(project, "rollout", "web", "--env", "listen", "--image", "1.1.0")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert f"still listens on {old}" in said and f"answers at http://{old}/" in said
    assert httpx.get(f"http://{old}/version", timeout=5).text.strip() == "1.1.0"
    status = json.loads(bakery(project, "status", "--env", "listen", "--json").output)["services"][0]
    assert status["url"] == f"http://{old}/"


def test_no_rollback_target_after_a_failed_canary_or_the_window_says_why(ap, docker_engine):
    """A new rollout takes the kept previous fleet's colour slots, so after a failed canary
    `bakery rollback` has nowhere to go: exit 1 naming the failed rollout and the way back.
    keep_previous (2s here) is enforced by rollback too. --json stdout is JSON lines."""
    project = ap
    assert bakery(project, "rollout", "web", "--env", "failedcanary", "--image", "1.0.0").exit_code == 0
    assert bakery(project, "rollout", "web", "--env", "failedcanary", "--image", "1.1.0").exit_code == 0
    plan = bakery(project, "rollout", "web", "--env", "failedcanary", "--image", "web-bad:1.0.0", "--canary",
                  "--plan")
    assert "the kept previous fleet blue (1.0.0) is removed first" in plan.output
    bad = bakery(project, "rollout", "web", "--env", "failedcanary", "--image", "web-bad:1.0.0", "--canary",
                 "--json")
    assert bad.exit_code == 1
    lines = [json.loads(line) for line in bad.stdout.splitlines()]  # every stdout line is one JSON object
    assert lines[-1]["event"] == "result" and lines[-1]["status"] == "failed"
    assert version_at(project, "failedcanary") == "1.1.0"
    back = bakery(project, "rollback", "web", "--env", "failedcanary")
    assert back.exit_code == 1
    assert "the failed rollout" in back.output and "web-bad 1.0.0 took its blue slots" in back.output
    assert "`bakery rollout web --env failedcanary --image 1.0.0`" in back.output
    assert version_at(project, "failedcanary") == "1.1.0"

    assert bakery(project, "rollout", "web", "--env", "failedcanary", "--image", "1.0.0").exit_code == 0
    time.sleep(2.5)  # past keep_previous: the previous fleet (1.1.0) is no rollback target any more
    late = bakery(project, "rollback", "web", "--env", "failedcanary")
    assert late.exit_code == 1
    assert "rollback window is 2s" in late.output and "--image 1.1.0" in late.output
    assert version_at(project, "failedcanary") == "1.0.0"
    assert {v[0] for v in fleets_snapshot(docker_engine, project, "failedcanary").values()} == {"1.0.0"}


def test_kill_9_while_draining_is_finished_by_the_next_run(ap, docker_engine):
    """kill -9 at exactly two points, under load (no request may fail):
    - a rollout as the drain of blue starts (green has all traffic): re-running the same rollout
      takes the dead lock over and finishes it, instead of a quick "already live" that skips it;
    - a rollback between its weight change and the drain (both colours at full weight): the next
      rollback finishes it and does not flip back. No container is restarted or changed."""
    project = ap
    assert bakery(project, "rollout", "web", "--env", "crash", "--image", "1.0.0").exit_code == 0
    port = project.load_rollout("crash", "web").listen_port
    with Load(f"http://127.0.0.1:{port}/") as load:
        killed_at(project, "bakery.rollout.traffic:drain", 1, "rollout", "web", "--env", "crash",
                  "--image", "1.1.0")
        again = bakery(project, "rollout", "web", "--env", "crash", "--image", "1.1.0")
        assert again.exit_code == 0, again.output
        assert "finished it" in again.output and "already live" in again.output
        stats = lb_stats(project, "crash")
        assert stats["blue1"].in_maint and stats["blue2"].in_maint
        before = fleets_snapshot(docker_engine, project, "crash")

        killed_at(project, "bakery.rollout.traffic:drain", 1, "rollback", "web", "--env", "crash")
        stats = lb_stats(project, "crash")
        assert stats["blue1"].weight == 100 and stats["green1"].weight == 100  # the split it died in
        rolled = bakery(project, "rollback", "web", "--env", "crash")
    assert rolled.exit_code == 0, rolled.output
    assert "taking over the lock" in rolled.output and "finished it" in rolled.output
    assert load.codes and set(load.codes) == {200}
    assert version_at(project, "crash") == "1.0.0"
    status = json.loads(bakery(project, "status", "--env", "crash", "--json").output)["services"][0]
    assert status["live"]["version"] == "1.0.0" and status["standby"]["version"] == "1.1.0"
    assert status["weights"] == {"blue": 200, "green": 0} and status["lock"] is None
    assert fleets_snapshot(docker_engine, project, "crash") == before
    hist = json.loads(bakery(project, "history", "web", "--env", "crash", "--json").output)["history"]
    assert [(h["kind"], h["status"]) for h in hist] == [("rollback", "succeeded"), ("rollout", "succeeded"),
                                                        ("rollout", "succeeded")]
    assert any(s["phase"] == "recovery" and s["action"] == "promote" for s in hist[0]["steps"])


def test_plan_refuses_what_the_run_would_refuse(ap):
    """--plan prints what would run: for an unverified image or a missing secret value that is
    the same refusal (and exit code) as the run, not a plan of steps that would never happen."""
    project = ap
    conn = connect(project.db_path)
    try:
        bad = builds.find(conn, "web-bad", "1.0.0")[0]
    finally:
        conn.close()
    mark_verified(project, bad, passed=False)
    try:
        plan = bakery(project, "rollout", "web", "--env", "listen", "--image", "web-bad:1.0.0", "--plan")
    finally:
        mark_verified(project, bad)
    assert plan.exit_code == 1 and "bakery verify web-bad:1.0.0" in plan.output
    path = project.rollout_path("listen", "web")
    original = path.read_text()
    path.write_text(original + "secrets: [API_TOKEN]\n")
    try:
        secret = bakery(project, "rollout", "web", "--env", "listen", "--image", "1.0.0", "--plan")
    finally:
        path.write_text(original)
    assert secret.exit_code == 2 and "BAKERY_SECRET_API_TOKEN" in secret.output
