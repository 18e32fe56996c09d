"""bakery reconcile against the real engine and HAProxy: nothing live becomes a rollout, a second
pass does nothing and says so, and a drifted member is replaced by a fresh one of the same
verified image under load without a failed request; then drift reports the fleet clean.
(Promotion by evidence against the real engine is in test_drift_fleet, on its shared fleet.)"""

from __future__ import annotations

import json

import pytest

from bakery.build.docker_builder import build
from bakery.engine.scope import scope_for
from tests.integration.rollout_support import Load, bakery, mark_verified, scratch_project, url

pytestmark = pytest.mark.docker

ENV = "conv"


def steps(out) -> list[dict]:
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_reconcile_rolls_out_then_does_nothing_then_replaces_a_drifted_member_under_load(
        docker_engine, base_image, tmp_path_factory):
    root = tmp_path_factory.mktemp("reconcile") / "project"
    with scratch_project(docker_engine, root, (ENV,)) as project:
        rec = build(project, project.load_image("web")).record
        mark_verified(project, rec)  # the same definition passes `bakery verify` in test_rollout_paths
        first = bakery(project, "reconcile", "--env", ENV, "--json")
        assert first.exit_code == 0, first.output
        assert [s["action"] for s in steps(first)] == ["rollout"], first.output

        again = bakery(project, "reconcile", "--env", ENV)
        assert again.exit_code == 0, again.output
        assert "nothing to do: everything runs as defined" in again.output, again.output

        scope = scope_for(project, ENV, "web")
        members = {int(c.labels["io.bakery.slot"]): c for c in docker_engine.containers.list(
            filters={"label": scope.label_filter("service")})}
        assert members[1].exec_run("touch /etc/nginx/evil.conf", user="root").exit_code == 0
        with Load(url(project, ENV)) as load:
            fixed = bakery(project, "reconcile", "--env", ENV, "--json")
        assert fixed.exit_code == 0, fixed.output
        done = steps(fixed)
        assert [(s["action"], s["slots"]) for s in done] == [("replace", [1])], fixed.output
        assert "/etc/nginx/evil.conf" in json.dumps(done[0]["members"])
        assert load.codes and set(load.codes) == {200}, {c: load.codes.count(c) for c in set(load.codes)}
        after = {int(c.labels["io.bakery.slot"]): c.id for c in docker_engine.containers.list(
            filters={"label": scope.label_filter("service")})}
        assert after[1] != members[1].id and after[2] == members[2].id  # fresh slot 1, slot 2 untouched

        clean = bakery(project, "drift", "--env", ENV)
        assert clean.exit_code == 0, clean.output
        last = bakery(project, "reconcile", "--env", ENV)
        assert last.exit_code == 0 and "nothing to do" in last.output, last.output
        history = bakery(project, "history", "--env", ENV)
        assert "repair reconcile" in history.output, history.output

