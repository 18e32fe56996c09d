"""The Swarm runtime's calls (bakery/rollout/adapters/swarm.py) against a fake manager API: what
it creates for a fleet, what it leaves to Swarm, and what it removes. The real cluster is in
tests/integration/test_swarm_rollout.py; here each rule is checked alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakery.definitions.swarm import SwarmSpec
from bakery.definitions.targets import HostSpec, Targets
from bakery.engine import labels
from bakery.engine.scope import Scope
from bakery.errors import RolloutError
from bakery.model.fleet import Fleet
from bakery.rollout.adapters import swarm_spec as sw
from bakery.rollout.adapters.swarm import SwarmRuntime
from bakery.rollout.ports import FleetSpec

SCOPE = Scope(Path("/p"), Path("/p/.bakery"), "prod", "web")
TARGETS = Targets((HostSpec("h1", "10.0.0.1", labels={"zone": "a"}),
                   HostSpec("h2", "10.0.0.2", labels={"zone": "b"})), swarm=SwarmSpec("h1"))
SPEC = FleetSpec("sha256:" + "a" * 64, "web", "1.2.0", "f" * 64, "green", "2026" + "0" * 12 + "abcd", 2, 8080,
                 0.5, 2.0, 3, {"API_TOKEN": "s3cr3t"})


class API:
    """The engine API calls the adapter makes, over dicts shaped like the engine's."""

    def __init__(self) -> None:
        self.svcs: list[dict[str, Any]] = []
        self.secs: list[dict[str, Any]] = []
        self.node_list = [
            {"ID": "n1", "Version": {"Index": 1}, "Spec": {"Availability": "active", "Labels": {"zone": "a"}},
             "Description": {"Hostname": "h1"}, "Status": {"State": "ready", "Addr": "10.0.0.1"}},
            {"ID": "n2", "Version": {"Index": 1}, "Spec": {"Availability": "active"},
             "Description": {"Hostname": "h2"}, "Status": {"State": "ready", "Addr": "10.0.0.2"}}]
        self.calls: list[str] = []

    def ping(self) -> bool:
        return True

    def nodes(self) -> list[dict[str, Any]]:
        return self.node_list

    def inspect_node(self, node_id: str) -> dict[str, Any]:
        return next(n for n in self.node_list if n["ID"] == node_id)

    def update_node(self, node_id: str, version: int, spec: dict[str, Any]) -> None:
        self.calls.append(f"update_node {node_id} {spec.get('Labels')}")
        self.inspect_node(node_id)["Spec"] = spec

    def services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        def fits(s: dict[str, Any]) -> bool:
            lab = s["Spec"]["Labels"]
            wanted = [f.split("=", 1) for f in filters.get("label", [])]
            return all(lab.get(k) == v for k, v in wanted) and filters.get("name", s["Spec"]["Name"]) in \
                s["Spec"]["Name"]
        return [s for s in self.svcs if fits(s)]

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def create_service(self, template: dict[str, Any], name: str, labels: dict[str, str], mode: Any,
                       endpoint_spec: dict[str, Any]) -> dict[str, str]:
        self.calls.append(f"create_service {name}")
        self.svcs.append({"ID": f"S{len(self.svcs)}", "Version": {"Index": 1}, "CreatedAt": "1",
                          "Spec": {"Name": name, "Labels": labels, "TaskTemplate": template,
                                   "Mode": {"Replicated": {"Replicas": mode["replicated"]["Replicas"]}},
                                   "EndpointSpec": endpoint_spec}})
        return {"ID": self.svcs[-1]["ID"]}

    def update_service(self, sid: str, version: int, mode: Any, fetch_current_spec: bool) -> None:
        svc = next(s for s in self.svcs if s["ID"] == sid)
        svc["Spec"]["Mode"] = {"Replicated": {"Replicas": mode["replicated"]["Replicas"]}}
        self.calls.append(f"scale {svc['Spec']['Name']} {mode['replicated']['Replicas']}")

    def remove_service(self, sid: str) -> None:
        self.calls.append(f"remove_service {sid}")
        self.svcs = [s for s in self.svcs if s["ID"] != sid]

    def secrets(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = [f.split("=", 1) for f in filters.get("label", [])]
        return [s for s in self.secs if all(s["Spec"]["Labels"].get(k) == v for k, v in wanted)
                and filters.get("name", s["Spec"]["Name"]) == s["Spec"]["Name"]]

    def create_secret(self, name: str, data: bytes, labels: dict[str, str]) -> dict[str, str]:
        self.secs.append({"ID": f"X{len(self.secs)}", "Spec": {"Name": name, "Labels": labels}, "data": data})
        return {"ID": self.secs[-1]["ID"]}

    def remove_secret(self, sid: str) -> None:
        self.calls.append(f"remove_secret {sid}")
        self.secs = [s for s in self.secs if s["ID"] != sid]


class Client:
    def __init__(self, api: API):
        self.api = api


class Runtime(SwarmRuntime):
    """The real adapter with the manager's client replaced and image shipping recorded."""

    def __init__(self, api: API):
        super().__init__(TARGETS, Path("/p/.bakery"))
        self.fake = Client(api)
        self.shipped: list[str] = []

    @property
    def manager(self) -> Any:  # type: ignore[override]
        return self.fake

    def ship_all(self, nodes: dict[str, sw.Node], spec: FleetSpec) -> None:
        self.shipped += sorted(n.hostname for n in nodes.values())


@pytest.fixture
def api() -> API:
    return API()


def test_a_fleet_is_a_new_service_with_its_secrets_and_labelled_nodes(api):
    rt = Runtime(api)
    fleet = rt.start_fleet(SCOPE, SPEC)
    assert fleet.rollout_id == SPEC.rollout_id and [m.index for m in fleet.members] == [1, 2]
    assert rt.shipped == ["h1", "h2"]
    assert api.calls == ["update_node n2 {'zone': 'b'}", "create_service web-prod-green"]  # n1 had its label
    (svc,) = api.svcs
    assert svc["Spec"]["Labels"][labels.ROLLOUT_ID] == SPEC.rollout_id
    (secret,) = api.secs
    assert secret["Spec"]["Name"] == "web-prod-0000abcd-API_TOKEN" and secret["data"] == b"s3cr3t"
    refs = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert [r["SecretID"] for r in refs] == [secret["ID"]]
    assert "s3cr3t" not in repr(svc)


def test_a_repair_of_a_running_fleet_creates_nothing(api):
    rt = Runtime(api)
    rt.start_fleet(SCOPE, SPEC)
    api.calls.clear()
    rt.start_fleet(SCOPE, FleetSpec(**{**SPEC.__dict__, "slots": (2,)}))
    assert api.calls == [] and len(api.svcs) == 1


def test_a_service_of_that_name_that_is_not_this_fleet_is_refused(api):
    rt = Runtime(api)
    rt.start_fleet(SCOPE, SPEC)
    with pytest.raises(RolloutError, match="web-prod-green already exists"):
        rt.start_fleet(SCOPE, FleetSpec(**{**SPEC.__dict__, "rollout_id": "2026" + "1" * 16}))


def test_only_a_whole_fleet_is_removed_with_its_secrets(api):
    rt = Runtime(api)
    fleet = rt.start_fleet(SCOPE, SPEC)
    api.calls.clear()
    rt.remove_fleet(Fleet(fleet.rollout_id, fleet.colour, "web", "1.2.0", "f", "", fleet.members[1:]))
    assert api.calls == [] and len(api.svcs) == 1  # a repair's dead member: Swarm's to replace
    rt.remove_fleet(fleet)
    assert api.calls == ["remove_service S0", "remove_secret X0"] and not api.svcs and not api.secs


def test_stop_scales_to_zero_and_start_back_to_the_fleets_size(api):
    rt = Runtime(api)
    fleet = rt.start_fleet(SCOPE, SPEC)
    api.calls.clear()
    rt.stop_fleet(fleet)
    stopped = rt.find_fleet(SCOPE, SPEC.rollout_id)
    assert not stopped.running and len(stopped.members) == 2
    rt.start_stopped(SCOPE, stopped)
    assert api.calls == ["scale web-prod-green 0", "scale web-prod-green 2"]
