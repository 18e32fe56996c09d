"""The ssh Runtime over fake engines: fleets read across hosts, a host that fails is marked down
and left out, and an image whose id differs from the verified build's is refused."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bakery.definitions.targets import HostSpec, Targets
from bakery.engine import labels
from bakery.engine.scope import SLOT_LABEL, Scope
from bakery.errors import RolloutError
from bakery.rollout.adapters.ssh import HOST_PORT_LABEL, SshRuntime
from bakery.rollout.ports import FleetSpec

SCOPE = Scope(root=Path("/p"), state_dir=Path("/p/.bakery"), env="prod", service="web")


def member(cid: str, slot: int, port: int, colour: str = "blue") -> SimpleNamespace:
    lab = {labels.ROLLOUT_ID: "r1", labels.COLOUR: colour, labels.IMAGE_NAME: "web",
           labels.IMAGE_VERSION: "1.0.0", labels.FINGERPRINT: "fp", SLOT_LABEL: str(slot),
           HOST_PORT_LABEL: str(port)}
    return SimpleNamespace(id=cid, name=f"c-{cid}", labels=lab, status="running",
                           attrs={"Created": "2026-01-01", "State": {"Status": "running",
                                                                      "Health": {"Status": "healthy"}}})


class Engine:
    def __init__(self, containers=(), image_id: str = "sha256:good", fail: Exception | None = None):
        self.fail = fail
        self.containers = SimpleNamespace(list=self._list)
        self.images = SimpleNamespace(get=lambda ref: SimpleNamespace(id=image_id))
        self._containers = list(containers)

    def _list(self, **kwargs):
        if self.fail:
            raise self.fail
        return self._containers

    def ping(self):
        if self.fail:
            raise self.fail
        return True


def runtime(engines: dict[str, Engine]) -> tuple[SshRuntime, list]:
    hosts = tuple(HostSpec(n, f"10.0.0.{i}") for i, n in enumerate(engines, start=1))
    events: list = []
    rt = SshRuntime(Targets(hosts), SCOPE.state_dir, emit=lambda kind, data: events.append((kind, data)))
    rt._clients.update(engines)
    return rt, events


def test_fleets_are_read_across_hosts_with_each_members_host_address_and_port():
    rt, _ = runtime({"h1": Engine([member("a", 1, 20000)]), "h2": Engine([member("b", 2, 20003)])})
    (fleet,) = rt.list_fleets(SCOPE)
    assert [(m.container_id, m.name, m.ip, m.port, m.index) for m in fleet.members] == [
        ("h1/a", "h1/c-a", "10.0.0.1", 20000, 1), ("h2/b", "h2/c-b", "10.0.0.2", 20003, 2)]
    assert fleet.healthy


def test_a_host_that_fails_is_down_reported_once_and_not_dialled_again():
    rt, events = runtime({"h1": Engine([member("a", 1, 20000)]), "h2": Engine(fail=OSError("no route"))})
    assert [m.name for m in rt.list_fleets(SCOPE)[0].members] == ["h1/c-a"]
    assert rt.down == {"h2": "no route"}
    rt.list_fleets(SCOPE)
    assert [e for e in events if e[0] == "warn"] == [
        ("warn", {"text": "host h2 (10.0.0.2) does not answer: no route"})]
    assert "h2" not in rt._clients  # its client was dropped


def test_no_host_answering_refuses_before_any_change(monkeypatch):
    rt, _ = runtime({"h1": Engine(fail=OSError("down")), "h2": Engine(fail=OSError("down too"))})
    monkeypatch.setattr(SshRuntime, "local", property(lambda self: Engine()))
    with pytest.raises(RolloutError, match="no host answers:\n  h1: down\n  h2: down too"):
        rt.image_present("bakery/web:fp-x")


def test_an_image_that_is_not_the_verified_build_is_refused():
    rt, _ = runtime({"h1": Engine(image_id="sha256:other")})
    spec = FleetSpec("sha256:good", "web", "1.0.0", "f" * 64, "blue", "r1", 1, 8080, 1.0, 2.0, 3)
    with pytest.raises(RolloutError, match="h1: .* is sha256:other, not the verified build sha256:good"):
        rt.ship(rt.host("h1"), rt._clients["h1"], spec)


def test_a_probe_that_fails_on_a_host_that_does_not_answer_stops_the_run():
    import socket

    from bakery.rollout.adapters.ssh_wiring import HostAwareProbe

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    hosts = (HostSpec("h1", "127.0.0.1"),)
    rt = SshRuntime(Targets(hosts), SCOPE.state_dir)
    rt._clients["h1"] = Engine(fail=OSError("no route to host"))
    with pytest.raises(RolloutError, match=r"host h1 \(127.0.0.1\) does not answer: no route to host"):
        HostAwareProbe(rt)("127.0.0.1", port, 0.5)
    rt2 = SshRuntime(Targets(hosts), SCOPE.state_dir)
    rt2._clients["h1"] = Engine()
    ok, _ = HostAwareProbe(rt2)("127.0.0.1", port, 0.5)  # the member failed, its host answers:
    assert not ok and rt2.down == {}  # a plain probe error, judged by the analysis
