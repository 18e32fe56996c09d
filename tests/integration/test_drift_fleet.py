"""bakery drift against the real engine: one fleet, clean first, then each kind of drift made by
hand and each found and named; writes under the writable paths are not drift.

One module-wide fleet of four members (web 1.0.0) shared by every finding, so the suite pays
for one build and one rollout. Its environment is a production one that requires a successful
rollout elsewhere first (promotion by evidence): the fixture sees the refusal, naming it, then
rolls out with `--force --reason`, which history shows.
"""

from __future__ import annotations

import json
import os

import pytest

from bakery.build.docker_builder import build
from bakery.engine import labels
from bakery.engine.scope import scope_for
from tests.integration.rollout_support import bakery, mark_verified, scratch_project

pytestmark = pytest.mark.docker

ENV, EVIDENCE = "prod-audit", "elsewhere"  # production requires a success in `elsewhere` first


@pytest.fixture(scope="module")
def fleet(docker_engine, base_image, tmp_path_factory):
    root = tmp_path_factory.mktemp("drift") / "project"
    with scratch_project(docker_engine, root, (ENV, EVIDENCE)) as project:
        path = project.root / "rollouts" / ENV / "web.yaml"
        path.write_text(path.read_text().replace("replicas: 2", "replicas: 4")
                        + f"requires: {{succeeded_in: [{EVIDENCE}]}}\n")
        rec = build(project, project.load_image("web")).record
        mark_verified(project, rec)  # the same definition passes `bakery verify` in test_rollout_paths
        refused = bakery(project, "rollout", "web", "--env", ENV, "--yes")
        assert refused.exit_code == 1, refused.output
        assert f"requires a successful rollout in {EVIDENCE} first" in refused.output, refused.output
        assert f"fp-{rec.fingerprint[:12]}" in refused.output
        assert members(docker_engine, project) == {}  # refused before any change
        os.environ["BAKERY_ACTOR"] = "oncall-alice"
        try:
            out = bakery(project, "rollout", "web", "--env", ENV, "--yes", "--force", "--reason",
                         "elsewhere is down; CVE fix")
        finally:
            os.environ.pop("BAKERY_ACTOR", None)
        assert out.exit_code == 0, out.output
        yield project, rec


def members(docker_engine, project) -> dict[int, object]:
    scope = scope_for(project, ENV, "web")
    found = docker_engine.containers.list(all=True, filters={"label": scope.label_filter("service")})
    return {int(c.labels["io.bakery.slot"]): c for c in found}


def drift_json(project) -> tuple[int, dict]:
    out = bakery(project, "drift", "--env", ENV, "--json")
    return out.exit_code, json.loads(out.stdout)


def test_a_clean_fleet_is_clean_then_each_drift_is_found_and_named(fleet, docker_engine, base_image):
    project, rec = fleet
    code, report = drift_json(project)
    assert code == 0, json.dumps([f for m in report["members"] for f in m["findings"]])
    assert [m["verdict"] for m in report["members"]] == ["clean"] * 4, report

    found = members(docker_engine, project)
    one, two, three, four = (found[i] for i in (1, 2, 3, 4))
    # writable paths: not drift
    for cmd in ("touch /tmp/scratch", "sh -c 'echo x > /var/log/nginx/extra.log'", "touch /run/nginx/x"):
        assert one.exec_run(cmd, user="root").exit_code == 0
    assert one.exec_run("touch /etc/nginx/evil.conf", user="root").exit_code == 0
    assert one.exec_run("sh -c 'echo defaced > /var/www/html/index.html'", user="root").exit_code == 0
    two.exec_run("sleep 600", detach=True)
    three.stop(timeout=2)
    # a container from another image in the fleet's place: slot 4's labels, debian running sleep
    lab = dict(four.labels)
    network = next(iter(four.attrs["NetworkSettings"]["Networks"]))
    four.remove(force=True)
    docker_engine.containers.run(base_image.tag, ["sleep", "600"], detach=True, labels=lab, network=network,
                                 name=f"drift-impostor-{lab[labels.ROLLOUT_ID][-8:]}")

    code, report = drift_json(project)
    assert code == 3, report
    by_slot = {m["slot"]: m for m in report["members"]}
    assert {m["verdict"] for m in report["members"]} == {"drifted"}, report

    files = {f["subject"]: f["detail"] for f in by_slot[1]["findings"] if f["kind"] == "file"}
    assert set(files) == {"/etc/nginx/evil.conf", "/var/www/html/index.html"}, by_slot[1]
    assert "added" in files["/etc/nginx/evil.conf"]
    assert "content differs" in files["/var/www/html/index.html"]
    assert all(f["kind"] == "file" for f in by_slot[1]["findings"]), by_slot[1]

    procs = [f for f in by_slot[2]["findings"] if f["kind"] == "process"]
    assert len(procs) == 1 and "sleep 600" in procs[0]["detail"], by_slot[2]

    assert [f["subject"] for f in by_slot[3]["findings"]] == ["status"], by_slot[3]
    assert "exited" in by_slot[3]["findings"][0]["detail"]

    kinds = {(f["kind"], f["subject"]) for f in by_slot[4]["findings"]}
    assert ("image", "id") in kinds and ("config", "command") in kinds, by_slot[4]

    table = bakery(project, "drift", "--env", ENV)
    assert table.exit_code == 3
    for named in ("/etc/nginx/evil.conf", "/var/www/html/index.html", "sleep 600", "exited",
                  "drift-impostor"):
        assert named in table.output, table.output


def test_a_forced_promotion_shows_who_and_why_in_history(fleet):
    project, _ = fleet
    history = bakery(project, "history", "--env", ENV)
    assert history.exit_code == 0, history.output
    assert "forced by oncall-alice: elsewhere is down; CVE fix" in history.output, history.output
    assert f"no successful rollout in {EVIDENCE}" in history.output
