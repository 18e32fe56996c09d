"""The ssh Runtime with a registry, over fake engines: the image is pushed once however many
hosts pull it, each host gets the CA and pulls by digest, and a host whose pulled image is not
the verified build is refused (the run stops; the host is not taken for a dead one)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bakery.definitions.targets import HostSpec, RegistrySpec, Targets
from bakery.errors import RolloutError
from bakery.rollout.adapters import ssh as ssh_adapter
from bakery.rollout.adapters.ssh import SshRuntime
from bakery.rollout.ports import FleetSpec

SPEC = FleetSpec("sha256:good", "web", "1.0.0", "f" * 64, "blue", "r1", 1, 8080, 1.0, 2.0, 3)
REF = "reg.test:5443/bakery/web@sha256:" + "d" * 64


class Engine:
    def __init__(self, pulled_id: str = "sha256:good"):
        self.pulls: list[str] = []
        self.pulled_id = pulled_id
        self.images = SimpleNamespace(pull=self._pull)

    def _pull(self, ref: str):
        self.pulls.append(ref)
        return SimpleNamespace(id=self.pulled_id)

    def ping(self):
        return True


@pytest.fixture
def calls(monkeypatch):
    seen: dict[str, list] = {"pushed": [], "trusted": []}

    def ensure_pushed(state_dir, spec, name, fingerprint, image_id, client=None, on_push=None):
        seen["pushed"].append((spec.address, name, fingerprint, image_id))
        return REF

    monkeypatch.setattr(ssh_adapter, "ensure_pushed", ensure_pushed)
    monkeypatch.setattr(ssh_adapter, "trust_on",
                        lambda host, state_dir, spec: seen["trusted"].append(host.name))
    return seen


def runtime(engines: dict[str, Engine]) -> SshRuntime:
    hosts = tuple(HostSpec(n, f"10.0.0.{i}") for i, n in enumerate(engines, start=1))
    rt = SshRuntime(Targets(hosts, registry=RegistrySpec("reg.test", 5443)), Path("/p/.bakery"))
    for name, engine in engines.items():
        rt._clients[name] = engine
        rt._clients[f"{name}#ship"] = engine
    return rt


def test_pushed_once_and_every_host_trusts_the_ca_and_pulls_by_digest(calls):
    engines = {"h1": Engine(), "h2": Engine(), "h3": Engine()}
    rt = runtime(engines)
    done = rt._each(rt.targets.hosts, lambda host, client: rt.ship(host, client, SPEC))
    assert set(done) == {"h1", "h2", "h3"} and rt.down == {}
    assert calls["pushed"] == [("reg.test:5443", "web", "f" * 64, "sha256:good")]
    assert sorted(calls["trusted"]) == ["h1", "h2", "h3"]
    assert all(e.pulls == [REF] for e in engines.values())  # by digest, never a tag
    rt.ship(rt.host("h1"), engines["h1"], SPEC)
    assert calls["trusted"].count("h1") == 1 and len(calls["pushed"]) == 1  # once per command


def test_a_host_whose_pulled_image_differs_is_refused_and_the_run_stops(calls):
    rt = runtime({"h1": Engine(), "h2": Engine(pulled_id="sha256:tampered")})
    with pytest.raises(RolloutError, match=r"h2: reg.test:5443/bakery/web@sha256:d+ is image "
                                           r"sha256:tampered there, not the verified build sha256:good"):
        rt._each(rt.targets.hosts, lambda host, client: rt.ship(host, client, SPEC))
    assert rt.down == {}  # refused, not "does not answer"
