"""Every rollout path against the real engine and HAProxy.

One tmp project (built once per module: web 1.0.0 and 1.1.0, web-bad, a never-healthy
web-sick); each test uses its own environment (its own LB, network and port), so tests do
not depend on each other's order. Canary pauses are short, probes few, so it stays quick.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bakery.build.docker_builder import build
from bakery.engine import labels
from bakery.engine.scope import PROJECT_LABEL, scope_for
from bakery.errors import EngineError
from bakery.rollout.adapters import secret_paths
from bakery.rollout.adapters.local import LocalRuntime
from bakery.rollout.ports import FleetSpec
from bakery.store import builds, locks, verifications
from bakery.store.db import connect
from bakery.verify.runner import verify
from tests.integration.rollout_support import (
    REPO,
    Load,
    bakery,
    declare_api_token,
    fleet_snapshot,
    free_port,
    lb_stats,
    mark_verified,
    scratch_project,
    url,
    version_at,
)

ENVS = ("first", "swap", "canary", "bad", "sick", "rb", "lock", "plan", "unverified", "crash", "secret")


@pytest.fixture(scope="module")
def rp(docker_engine, base_image, tmp_path_factory):
    """The shared rollout project: images built and marked verified, one env per test."""
    with scratch_project(docker_engine, tmp_path_factory.mktemp("rollout") / "project", ENVS) as project:
        root = project.root
        sick = root / "images" / "web-sick"
        shutil.copytree(root / "images" / "web", sick)
        text = (sick / "image.yaml").read_text().replace("name: web", "name: web-sick")
        (sick / "image.yaml").write_text(text.replace("path: /healthz", "path: /never-there"))
        recs = {}
        recs["web-1.0.0"] = build(project, project.load_image("web")).record
        web_yaml = root / "images" / "web" / "image.yaml"
        web_yaml.write_text(web_yaml.read_text().replace("version: 1.0.0", "version: 1.1.0"))
        recs["web-1.1.0"] = build(project, project.load_image("web")).record
        recs["web-bad"] = build(project, project.load_image("web-bad")).record
        recs["web-sick"] = build(project, project.load_image("web-sick")).record
        for key in ("web-1.0.0", "web-1.1.0", "web-bad"):
            rec = recs[key]
            report = verify(project, rec.name, rec.version, fingerprint=rec.fingerprint)
            assert report.passed, f"{key} must pass bakery verify before it can be rolled out"
        # web-sick's health path does not exist, so it could never pass verify; it stands for an
        # image that was verified but is unhealthy in this environment.
        mark_verified(project, recs["web-sick"])
        yield project, recs


def test_first_rollout_then_same_image_is_a_noop(rp, docker_engine):
    project, recs = rp
    first = bakery(project, "rollout", "web", "--env", "first", "--image", "1.0.0")
    assert first.exit_code == 0, first.output
    assert url(project, "first") in first.output
    assert version_at(project, "first") == "1.0.0"
    scope = scope_for(project, "first", "web")
    containers = docker_engine.containers.list(filters={"label": scope.label_filter("service")})
    assert len(containers) == 2
    for c in containers:
        lab = c.labels
        assert lab[labels.ENV] == "first" and lab[labels.SERVICE] == "web" and lab[labels.COLOUR] == "blue"
        assert lab[labels.IMAGE_VERSION] == "1.0.0"
        assert lab[labels.FINGERPRINT] == recs["web-1.0.0"].fingerprint
        assert lab[labels.ROLLOUT_ID]
    again = bakery(project, "rollout", "web", "--env", "first", "--image", "1.0.0")
    assert again.exit_code == 0 and "already live" in again.output
    assert {c.id for c in docker_engine.containers.list(
        filters={"label": scope.label_filter("service")})} == {c.id for c in containers}
    hist = json.loads(bakery(project, "history", "web", "--env", "first", "--json").output)["history"]
    assert [(h["status"], h["version"]) for h in hist] == [("succeeded", "1.0.0")]
    # The load balancer serves traffic too: its image was verified before it was used.
    conn = connect(project.db_path)
    try:
        lb_builds = builds.find(conn, "lb")
        assert lb_builds and verifications.is_verified(conn, lb_builds[0].fingerprint)
    finally:
        conn.close()


def test_blue_green_swap_loses_no_request_and_keeps_blue(rp, docker_engine):
    project, _ = rp
    assert bakery(project, "rollout", "web", "--env", "swap", "--image", "1.0.0").exit_code == 0
    blue = fleet_snapshot(docker_engine, project, "swap", "1.0.0")
    with Load(url(project, "swap")) as load:
        time.sleep(0.3)
        result = bakery(project, "rollout", "web", "--env", "swap", "--image", "1.1.0")
        time.sleep(0.3)
    assert result.exit_code == 0, result.output
    assert version_at(project, "swap") == "1.1.0"
    assert load.codes and set(load.codes) == {200}, f"failed answers: {[c for c in load.codes if c != 200]}"
    # Invariant 1: blue was never restarted or changed, and it is kept running for rollback.
    assert fleet_snapshot(docker_engine, project, "swap", "1.0.0") == blue
    stats = lb_stats(project, "swap")
    assert stats["blue1"].in_maint and stats["green1"].status.startswith("UP")
    status = json.loads(bakery(project, "status", "--env", "swap", "--json").output)["services"][0]
    assert status["live"]["version"] == "1.1.0" and status["standby"]["version"] == "1.0.0"


def test_canary_success_prints_each_verdict(rp):
    project, _ = rp
    assert bakery(project, "rollout", "web", "--env", "canary", "--image", "1.0.0").exit_code == 0
    result = bakery(project, "rollout", "web", "--env", "canary", "--image", "1.1.0", "--canary", "--json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines() if line.startswith('{"event"')]
    verdicts = [e for e in events if e["event"] == "verdict"]
    assert [(v["weight"], v["outcome"]) for v in verdicts] == [(10, "pass"), (50, "pass")]
    assert all(v["samples"] >= v["min_requests"] and v["probes"] == 30 for v in verdicts)
    weights = [e["green_percent"] for e in events if e["event"] == "weights"]
    assert weights == [10, 50, 100]
    assert version_at(project, "canary") == "1.1.0"


def test_bad_canary_is_rolled_back_automatically(rp, docker_engine):
    project, recs = rp
    assert bakery(project, "rollout", "web", "--env", "bad", "--image", "1.0.0").exit_code == 0
    blue = fleet_snapshot(docker_engine, project, "bad", "1.0.0")
    result = bakery(project, "rollout", "web", "--env", "bad", "--image", "web-bad:1.0.0", "--canary")
    assert result.exit_code == 1
    assert "analysis step 1 (10%): fail" in result.output and "error rate" in result.output
    assert version_at(project, "bad") == "1.0.0"
    assert fleet_snapshot(docker_engine, project, "bad", "1.0.0") == blue
    scope = scope_for(project, "bad", "web")
    left = docker_engine.containers.list(all=True, filters={"label": scope.label_filter("service")})
    assert all(c.labels[labels.FINGERPRINT] != recs["web-bad"].fingerprint for c in left)
    stats = lb_stats(project, "bad")
    assert all(stats[f"green{i}"].in_maint for i in (1, 2))
    assert all(stats[f"blue{i}"].weight == 100 for i in (1, 2))
    hist = json.loads(bakery(project, "history", "web", "--env", "bad", "--json").output)["history"]
    assert hist[0]["status"] == "failed" and "canary analysis" in hist[0]["reason"]


def test_unhealthy_green_never_gets_traffic(rp, docker_engine):
    project, recs = rp
    assert bakery(project, "rollout", "web", "--env", "sick", "--image", "1.0.0").exit_code == 0
    result = bakery(project, "rollout", "web", "--env", "sick", "--image", "web-sick:1.0.0")
    assert result.exit_code == 1
    assert "not healthy" in result.output and "health=unhealthy" in result.output  # the health log
    assert version_at(project, "sick") == "1.0.0"
    scope = scope_for(project, "sick", "web")
    left = docker_engine.containers.list(all=True, filters={"label": scope.label_filter("service")})
    assert all(c.labels[labels.FINGERPRINT] != recs["web-sick"].fingerprint for c in left)
    stats = lb_stats(project, "sick")
    assert all(stats[f"green{i}"].stot == 0 and stats[f"green{i}"].in_maint for i in (1, 2))


def test_manual_rollback_never_touches_the_fleet_it_returns_to(rp, docker_engine):
    project, _ = rp
    assert bakery(project, "rollout", "web", "--env", "rb", "--image", "1.0.0").exit_code == 0
    assert bakery(project, "rollout", "web", "--env", "rb", "--image", "1.1.0").exit_code == 0
    old = fleet_snapshot(docker_engine, project, "rb", "1.0.0")
    assert old and all(state[2] == "running" for state in old.values())
    with Load(url(project, "rb")) as load:
        time.sleep(0.3)
        result = bakery(project, "rollback", "web", "--env", "rb")
        time.sleep(0.3)
    assert result.exit_code == 0, result.output
    assert version_at(project, "rb") == "1.0.0"
    assert set(load.codes) == {200}
    assert fleet_snapshot(docker_engine, project, "rb", "1.0.0") == old
    status = json.loads(bakery(project, "status", "--env", "rb", "--json").output)["services"][0]
    assert status["live"]["version"] == "1.0.0" and status["standby"]["version"] == "1.1.0"
    # And forward again: the rolled-back-from fleet is now the rollback target.
    assert bakery(project, "rollback", "web", "--env", "rb").exit_code == 0
    assert version_at(project, "rb") == "1.1.0"


def test_lock_contention_and_takeover(rp, docker_engine):
    project, _ = rp
    scope = scope_for(project, "lock", "web")
    conn = connect(project.db_path)
    now = time.time()
    conn.execute("INSERT INTO locks (key, token, owner, host, pid, acquired, heartbeat, expires, purpose)"
                 " VALUES (?,?,?,?,?,?,?,?,?)",
                 (scope.lock_key, "other", "alice", socket.gethostname(), os.getpid(), now, now, now + 60,
                  "rollout web 9.9.9"))
    busy = bakery(project, "rollout", "web", "--env", "lock", "--image", "1.0.0")
    assert busy.exit_code == 1
    assert f"locked by alice on {socket.gethostname()} (pid {os.getpid()})" in busy.output
    assert not docker_engine.containers.list(all=True, filters={"label": scope.label_filter("service")})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    conn.execute("UPDATE locks SET pid = ? WHERE key = ?", (int(dead.stdout), scope.lock_key))
    taken = bakery(project, "rollout", "web", "--env", "lock", "--image", "1.0.0")
    assert taken.exit_code == 0, taken.output
    assert "taking over the lock" in taken.output and "is gone" in taken.output
    assert locks.get(conn, scope.lock_key) is None  # released after the rollout
    conn.close()


def test_plan_changes_nothing(rp, docker_engine):
    project, _ = rp
    assert bakery(project, "rollout", "web", "--env", "plan", "--image", "1.0.0").exit_code == 0
    scope = scope_for(project, "plan", "web")

    def snapshot():
        conn = connect(project.db_path)
        try:
            tables = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                      for t in ("rollouts", "rollout_steps", "locks", "verifications", "builds")}
        finally:
            conn.close()
        containers = sorted((c.id, c.status) for c in docker_engine.containers.list(
            all=True, filters={"label": f"{PROJECT_LABEL}={scope.project_id}"}))
        servers = {n: (s.status, s.weight, s.addr) for n, s in lb_stats(project, "plan").items()}
        return tables, containers, servers

    before = snapshot()
    result = bakery(project, "rollout", "web", "--env", "plan", "--image", "1.1.0", "--canary", "--plan")
    assert result.exit_code == 0, result.output
    for text in ("canary step 1: green weight 10, blue weight 90", "canary step 2: green weight 50",
                 "expected duration", "rollback path", "drain blue"):
        assert text in result.output
    assert snapshot() == before


def test_unverified_image_is_refused_with_the_command_to_run(rp, docker_engine):
    project, recs = rp
    mark_verified(project, recs["web-bad"], passed=False)
    try:
        result = bakery(project, "rollout", "web", "--env", "unverified", "--image", "web-bad:1.0.0")
    finally:
        mark_verified(project, recs["web-bad"])
    assert result.exit_code == 1
    assert "bakery verify web-bad:1.0.0" in result.output
    scope = scope_for(project, "unverified", "web")
    assert not docker_engine.containers.list(all=True, filters={"label": scope.label_filter("service")})


def test_missing_secret_and_production_confirmation_change_nothing(rp, docker_engine):
    project, _ = rp
    path = project.rollout_path("unverified", "web")
    original = path.read_text()
    path.write_text(original + "secrets: [API_TOKEN]\n")
    try:
        result = bakery(project, "rollout", "web", "--env", "unverified", "--image", "1.0.0")
    finally:
        path.write_text(original)
    assert result.exit_code == 2 and "BAKERY_SECRET_API_TOKEN" in result.output
    prod = project.root / "rollouts" / "production"
    prod.mkdir()
    (prod / "web.yaml").write_text((REPO / "rollouts/production/web.yaml").read_text().replace(
        "127.0.0.1:8090", f"127.0.0.1:{free_port()}"))
    try:
        refused = bakery(project, "rollout", "web", "--env", "production")
    finally:
        shutil.rmtree(prod)
    assert refused.exit_code == 2 and "--yes" in refused.output
    scope = scope_for(project, "unverified", "web")
    assert not docker_engine.containers.list(all=True, filters={"label": scope.label_filter("service")})


def test_interrupted_rollout_is_unwound_by_the_next_run(rp, docker_engine):
    """Invariant 4: kill -9 mid-canary; the next run takes the dead lock over, unwinds, goes on."""
    project, recs = rp
    assert bakery(project, "rollout", "web", "--env", "crash", "--image", "1.0.0").exit_code == 0
    blue = fleet_snapshot(docker_engine, project, "crash", "1.0.0")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "bakery"), "--project", str(project.root),
                             "rollout",
                             "web", "--env", "crash", "--image", "1.1.0", "--canary", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith('{"event": "weights"'):
            proc.kill()  # SIGKILL: no cleanup, the lock and the journal say "running"
            break
    proc.wait()
    proc.stdout.close()
    stats = lb_stats(project, "crash")
    assert stats["green1"].weight > 0  # the canary really held weight when it died
    status = json.loads(bakery(project, "status", "--env", "crash", "--json").output)["services"][0]
    assert status["live"]["version"] == "1.0.0" and status["standby"] is None and status["lock"]
    result = bakery(project, "rollout", "web", "--env", "crash", "--image", "1.1.0")
    assert result.exit_code == 0, result.output
    assert "taking over the lock" in result.output and "was unwound" in result.output
    assert version_at(project, "crash") == "1.1.0"
    assert fleet_snapshot(docker_engine, project, "crash", "1.0.0") == blue
    hist = json.loads(bakery(project, "history", "web", "--env", "crash", "--json").output)["history"]
    assert [h["status"] for h in hist] == ["succeeded", "unwound", "succeeded"]
    assert any(s["phase"] == "recovery" and s["action"] == "unwind" for s in hist[1]["steps"])


def test_secrets_are_files_in_every_member_never_in_what_inspect_shows(rp, docker_engine, monkeypatch):
    """Default delivery: /run/secrets/<NAME> (a read-only bind of a 0444 file bakery wrote in a
    0700 per-fleet directory); `secret_delivery: env` keeps env vars; removing the fleet removes
    the files on this machine."""
    project, _ = rp
    value = declare_api_token(project, "secret", monkeypatch)
    first = bakery(project, "rollout", "web", "--env", "secret", "--image", "1.0.0")
    assert first.exit_code == 0, first.output
    scope = scope_for(project, "secret", "web")
    members = docker_engine.containers.list(filters={"label": scope.label_filter("service")})
    assert len(members) == 2
    rid = members[0].labels[labels.ROLLOUT_ID]
    for c in members:
        code, out = c.exec_run(["cat", "/run/secrets/API_TOKEN"])  # as the image's user, www-data
        assert code == 0 and out.decode() == value
        assert value not in json.dumps(c.attrs)
    host_dir = Path(secret_paths.rollout_dir(secret_paths.HOST_ROOT, scope.slug, rid))
    assert (host_dir / "API_TOKEN").stat().st_mode & 0o777 == 0o444
    assert host_dir.stat().st_mode & 0o777 == 0o700

    path = project.rollout_path("secret", "web")
    path.write_text(path.read_text() + "secret_delivery: env\n")
    second = bakery(project, "rollout", "web", "--env", "secret", "--image", "1.1.0")
    assert second.exit_code == 0, second.output
    green = [c for c in docker_engine.containers.list(filters={"label": scope.label_filter("service")})
             if c.labels[labels.ROLLOUT_ID] != rid]
    assert green and all(f"API_TOKEN={value}" in c.attrs["Config"]["Env"] for c in green)
    assert all(c.exec_run(["test", "-e", "/run/secrets/API_TOKEN"])[0] != 0 for c in green)

    runtime = LocalRuntime(docker_engine)
    standby = next(f for f in runtime.list_fleets(scope) if f.rollout_id == rid)  # kept for rollback
    assert (host_dir / "API_TOKEN").is_file()
    runtime.remove_fleet(replace(standby, members=standby.members[:1]))  # a part: files stay
    assert (host_dir / "API_TOKEN").is_file()
    runtime.remove_fleet(standby)
    assert not host_dir.exists()


def test_secret_files_of_a_fleet_that_failed_to_start_go_with_its_unwind(rp, docker_engine):
    """No network for this scope, so every member fails to start; removing what was created (as
    the driver's unwind does) takes the fleet's secret files too."""
    project, recs = rp
    scope, rec, rid = scope_for(project, "nonet", "web"), recs["web-1.0.0"], "20260101000000abcdef"
    spec = FleetSpec(rec.image_id, rec.name, rec.version, rec.fingerprint, "blue", rid, 1, 8080, 0.5, 2.0, 2,
                     {"API_TOKEN": "s3cr3t"}, health_path="/healthz")
    runtime = LocalRuntime(docker_engine)
    folder = Path(secret_paths.rollout_dir(secret_paths.HOST_ROOT, scope.slug, rid))
    with pytest.raises(EngineError, match="cannot start blue container 1"):
        runtime.start_fleet(scope, spec)
    for fleet in runtime.list_fleets(scope):
        runtime.remove_fleet(fleet)
    assert not folder.exists() and not folder.parent.exists()
