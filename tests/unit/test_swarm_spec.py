"""The pure half of the Swarm runtime (bakery/rollout/adapters/swarm_spec.py): the service spec
bakery creates for a colour, and what Swarm's tasks mean as members. Task and service dicts are
shaped like the engine API's (1.41), as the SDK returns them."""

from __future__ import annotations

from pathlib import Path

from bakery.balancer.commands import ServerStat
from bakery.engine import labels
from bakery.engine.scope import Scope
from bakery.model.fleet import Fleet, Member
from bakery.rollout.adapters import swarm_spec as sw
from bakery.rollout.ports import FleetSpec

SCOPE = Scope(Path("/p"), Path("/p/.bakery"), "prod", "web")
SPEC = FleetSpec("sha256:" + "a" * 64, "web", "1.2.0", "f" * 64, "green", "r" * 24 + "12345678", 3, 8080,
                 0.5, 2.0, 3, {"API_TOKEN": "s3cr3t"})
NODES = {"n1": sw.Node("n1", "h1", "10.0.0.1"), "n2": sw.Node("n2", "h2", "10.0.0.2")}


def service(replicas: int = 3, kept: int | None = None, sid: str = "S1", created: str = "2026-01-01") -> dict:
    lab = {labels.ROLLOUT_ID: "r1", labels.COLOUR: "blue", labels.IMAGE_NAME: "web",
           labels.IMAGE_VERSION: "1.0.0", labels.FINGERPRINT: "f" * 64,
           sw.REPLICAS_LABEL: str(kept if kept is not None else replicas)}
    return {"ID": sid, "CreatedAt": created,
            "Spec": {"Name": "web-prod-blue", "Labels": lab, "Mode": {"Replicated": {"Replicas": replicas}},
                     "EndpointSpec": sw.endpoint(8080)}}


def task(slot: int, node: str, state: str, port: int = 0, desired: str = "running", created: str = "1",
         tid: str = "", err: str = "", sid: str = "S1") -> dict:
    status: dict = {"State": state, "ContainerStatus": {"ContainerID": f"c-{tid or slot}"}}
    if port:
        status["PortStatus"] = {"Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": port,
                                           "PublishMode": "host"}]}
    if err:
        status["Err"] = err
    return {"ID": tid or f"t{slot}", "ServiceID": sid, "Slot": slot, "NodeID": node, "DesiredState": desired,
            "CreatedAt": created, "Status": status}


def test_names_are_per_colour_and_secrets_per_rollout():
    assert sw.service_name(SCOPE, "green") == "web-prod-green"
    assert sw.secret_name(SCOPE, SPEC.rollout_id, "API_TOKEN") == "web-prod-12345678-API_TOKEN"
    assert len(sw.secret_name(SCOPE, SPEC.rollout_id, "X" * 80)) == 64  # Swarm's limit


def test_the_image_is_referenced_by_the_verified_id():
    assert sw.image_reference(SPEC) == SPEC.image_id
    ref = "10.0.0.1:5443/bakery/web@sha256:" + "a" * 64
    assert sw.image_reference(SPEC, ref) == ref


def test_task_template_mounts_secrets_as_files_and_spreads_by_label():
    t = sw.task_template(SCOPE, SPEC, {"API_TOKEN": "sec-id"}, "zone")
    c = t["ContainerSpec"]
    assert c["Image"] == SPEC.image_id and "Env" not in c  # nothing in the environment
    assert c["Secrets"] == [{"SecretID": "sec-id", "SecretName": "web-prod-12345678-API_TOKEN",
                             "File": {"Name": "API_TOKEN", "UID": "0", "GID": "0", "Mode": 0o444}}]
    assert "s3cr3t" not in repr(t) and "s3cr3t" not in repr(sw.fleet_labels(SCOPE, SPEC))
    assert t["Placement"]["Preferences"] == [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]
    # At most once a second, and Swarm replaces a task only after 3x the definition's threshold.
    assert c["Healthcheck"] == {"Interval": 1_000_000_000, "Timeout": 2_000_000_000, "Retries": 9}
    assert "Test" not in c["Healthcheck"]  # the image's own test is kept
    assert t["RestartPolicy"]["Condition"] == "any"
    assert c["Labels"][labels.ROLLOUT_ID] == SPEC.rollout_id and c["Labels"][sw.REPLICAS_LABEL] == "3"


def test_no_secrets_no_secret_list():
    assert "Secrets" not in sw.task_template(SCOPE, SPEC, {}, "zone")["ContainerSpec"]


def test_ports_are_published_in_host_mode_on_a_port_swarm_picks():
    assert sw.endpoint(8080) == {"Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishMode": "host"}]}


def test_members_are_slots_at_node_address_and_task_port():
    tasks = [task(1, "n1", "running", 32768), task(2, "n2", "running", 32769), task(3, "n1", "starting")]
    (fleet,) = sw.fleets_of([service()], tasks, NODES)
    assert (fleet.rollout_id, fleet.colour, fleet.version) == ("r1", "blue", "1.0.0")
    one, two, three = fleet.members
    assert (one.name, one.index, one.status, one.health, one.ip, one.port) == (
        "h1/web-prod-blue.1", 1, "running", "healthy", "10.0.0.1", 32768)
    assert two.address(8080) == ("10.0.0.2", 32769)
    assert (three.status, three.health) == ("created", "starting")
    assert not fleet.healthy


def test_a_replaced_task_stands_for_its_slot_and_a_missing_slot_is_a_member():
    tasks = [task(1, "n1", "failed", desired="shutdown", created="1", tid="old", err="task: non-zero exit"),
             task(1, "n2", "running", 32770, created="2", tid="new"), task(2, "n2", "running", 32771)]
    (fleet,) = sw.fleets_of([service()], tasks, NODES)
    one, two, three = fleet.members
    assert one.container_id == "new:c-new" and one.address(8080) == ("10.0.0.2", 32770)
    assert (three.index, three.status, three.ip) == (3, "missing", "")
    assert sw.failures(tasks) == {1: ["task: non-zero exit"]}


def test_a_service_scaled_to_zero_is_a_stopped_fleet_of_its_size():
    (fleet,) = sw.fleets_of([service(replicas=0, kept=2)], [], NODES)
    assert [m.status for m in fleet.members] == ["exited", "exited"] and not fleet.running
    stopped = service(replicas=0, kept=2)
    assert sw.scaled_down(stopped) and sw.service_replicas(stopped) == 2


def test_fleets_oldest_first():
    new, old = service(sid="S2", created="2026-02-01"), service(sid="S1", created="2026-01-01")
    new["Spec"]["Labels"] = {**new["Spec"]["Labels"], labels.ROLLOUT_ID: "r2"}
    assert [f.rollout_id for f in sw.fleets_of([new, old], [], NODES)] == ["r1", "r2"]


def test_only_a_whole_fleet_is_removed():
    whole = sw.fleets_of([service()], [], NODES)[0]
    assert not sw.is_part(whole, service())
    part = Fleet("r1", "blue", "web", "1.0.0", "f", "", [whole.members[1]])
    assert sw.is_part(part, service())


def test_node_labels_only_where_missing():
    nodes = [sw.Node("n1", "h1", "10.0.0.1", labels={"zone": "a"}), sw.Node("n2", "h2", "10.0.0.2"),
             sw.Node("n3", "h3", "10.0.0.3", labels={"zone": "x", "keep": "1"})]
    wanted = {"h1": {"zone": "a"}, "h2": {"zone": "b"}, "h3": {"zone": "c"}}
    assert sw.node_labels_needed(nodes, wanted) == {"n2": {"zone": "b"}, "n3": {"zone": "c", "keep": "1"}}


def test_node_from_the_api():
    attrs = {"ID": "n1", "Spec": {"Availability": "drain", "Labels": {"zone": "a"}},
             "Description": {"Hostname": "h1"}, "Status": {"State": "ready", "Addr": "10.0.0.1"}}
    assert sw.node_from(attrs) == sw.Node("n1", "h1", "10.0.0.1", "drain", "ready", {"zone": "a"})


def test_status_rows_count_desired_and_running_per_node():
    tasks = [task(1, "n1", "running", 1), task(2, "n2", "running", 2), task(3, "n2", "preparing"),
             task(1, "n1", "shutdown", desired="shutdown", tid="old")]
    (row,) = sw.task_rows([service()], tasks, NODES)
    assert (row["colour"], row["desired"], row["running"]) == ("blue", 3, 2)
    assert row["nodes"] == {"h1": {"desired": 1, "running": 1}, "h2": {"desired": 2, "running": 1}}


def stat(name: str, addr: str, status: str = "UP") -> ServerStat:
    return ServerStat("app", name, status, 100, 0, 0, 0, 0, 0, 1, "L7OK", addr)


def test_moved_slots_are_those_whose_running_task_is_elsewhere():
    fleet = Fleet("r1", "blue", "web", "1.0.0", "f", "", [
        Member("t1", "h1/x.1", 1, "running", "healthy", "10.0.0.1", 32768),
        Member("t2", "h2/x.2", 2, "running", "healthy", "10.0.0.2", 32999),  # moved
        Member("t3", "-/x.3", 3, "created", "starting", "10.0.0.2", 0)])  # not running yet
    stats = {"blue1": stat("blue1", "10.0.0.1:32768"), "blue2": stat("blue2", "10.0.0.3:32768", "DOWN"),
             "blue3": stat("blue3", "10.0.0.3:32769", "DOWN")}
    assert sw.moved_slots([fleet], stats) == [("blue", 2, "10.0.0.2", 32999)]
    stats["blue2"] = stat("blue2", "10.0.0.3:32768", "MAINT")  # out of use: left alone
    assert sw.moved_slots([fleet], stats) == []
    assert sw.moved_slots([fleet], None) == []


def test_slot_at_names_the_slot_an_address_stood_for_even_after_the_task_ended():
    tasks = [task(2, "n2", "shutdown", 32771, desired="shutdown", tid="old"), task(2, "n1", "running", 32775)]
    assert sw.slot_at([service()], tasks, NODES, "10.0.0.2", 32771) == ("blue", 2)
    assert sw.slot_at([service()], tasks, NODES, "10.0.0.1", 32775) == ("blue", 2)
    assert sw.slot_at([service()], tasks, NODES, "10.0.0.9", 32771) is None
