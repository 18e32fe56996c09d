"""Health while a fleet starts: Docker's rules kept (retries in a row, no count before one
interval), the image's own HTTP check as the gate, bounded parallel calls, and members started
without an engine healthcheck when bakery probes them."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import docker.errors
import pytest

from bakery.engine import labels
from bakery.engine.scope import SLOT_LABEL, Scope
from bakery.errors import EngineError
from bakery.rollout.adapters.local import NO_HEALTHCHECK, LocalRuntime, probe_spec
from bakery.rollout.adapters.startup import PROBE_LABEL, Probes, ProbeSpec, bounded
from bakery.rollout.ports import FleetSpec


def spec(**kw) -> FleetSpec:
    base = dict(image_id="img", image_name="web", version="1.0.0", fingerprint="f" * 64, colour="green",
                rollout_id="r1", replicas=3, port=8080, health_interval=0.5, health_timeout=2.0,
                health_retries=2, health_path="/healthz", parallelism=4)
    return FleetSpec(**{**base, **kw})


def image_labels(healthcheck: dict | None) -> dict[str, str]:
    return {labels.DEFINITION: json.dumps({"name": "web", "healthcheck": healthcheck})}


def test_a_failure_before_one_interval_does_not_count_and_retries_in_a_row_make_unhealthy():
    book = Probes(retries=2, interval=0.5)
    book.record("a", False, "refused", now=10.0)  # just started: Docker would not have checked yet
    assert book.unhealthy() == []
    book.record("a", False, "refused", now=10.5)
    book.record("a", True, "GET /healthz: 200", now=11.0)  # a pass resets the streak
    book.record("b", False, "refused", now=10.0)
    book.record("b", False, "GET /healthz: 503", now=10.6)
    book.record("b", False, "GET /healthz: 503", now=11.1)
    assert book.pending(["a", "b"]) == ["b"]
    assert book.unhealthy() == ["b"] and book.last["b"] == "GET /healthz: 503"


def test_the_probe_travels_as_a_label_and_a_bad_label_means_the_engine_checks():
    p = ProbeSpec("/healthz", 8080, 0.5, 2.0, 3, 16)
    assert ProbeSpec.from_label(p.label()) == p
    assert ProbeSpec.from_label("") is None and ProbeSpec.from_label("{not json") is None


def test_the_images_own_http_check_is_the_gate_and_a_command_check_stays_with_the_engine():
    own = probe_spec(spec(), image_labels({"http_path": "/ready", "http_port": 9000, "command": None}))
    assert (own.path, own.port, own.retries, own.parallelism) == ("/ready", 9000, 2, 4)
    assert probe_spec(spec(), image_labels({"http_path": None, "command": ["true"]})) is None
    assert probe_spec(spec(), image_labels(None)).path == "/healthz"  # no check of its own
    assert probe_spec(spec(health_path="")) is None  # a runtime told nothing to probe


def test_bounded_runs_at_most_n_at_once_and_hands_back_failures_in_order():
    running, peak, lock = [0], [0], threading.Lock()

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        if i == 3:
            raise ValueError("three")
        return i * 2

    results = bounded(work, range(10), 4)
    assert peak[0] <= 4
    assert results[:3] == [0, 2, 4] and isinstance(results[3], ValueError) and results[9] == 18


class Api:
    """The low-level client calls start_fleet makes: create, then start."""

    def __init__(self, fail_index: int | None = None):
        self.runs: list[dict] = []
        self.started: list[str] = []
        self.fail_index = fail_index
        self.lock = threading.Lock()

    def create_container(self, image, **kw):  # noqa: ANN001
        if self.fail_index is not None and kw["labels"][SLOT_LABEL] == str(self.fail_index):
            raise docker.errors.APIError("409 Conflict", explanation="name in use")
        with self.lock:
            self.runs.append(kw)
        return {"Id": kw["name"]}

    def start(self, cid: str) -> None:
        with self.lock:
            self.started.append(cid)

    def create_host_config(self, **kw):  # noqa: ANN003
        return kw

    def create_networking_config(self, endpoints):  # noqa: ANN001
        return endpoints

    def create_endpoint_config(self):  # noqa: ANN201
        return {}


def runtime_with(api: Api, image: dict[str, str]) -> LocalRuntime:
    client = SimpleNamespace(api=api, images=SimpleNamespace(get=lambda ref: SimpleNamespace(labels=image)))
    return LocalRuntime(client)


def test_members_start_without_an_engine_healthcheck_and_carry_their_probe(tmp_path, monkeypatch):
    scope = Scope(tmp_path, tmp_path / ".bakery", "staging", "web")
    api = Api()
    runtime = runtime_with(api, image_labels({"http_path": "/healthz", "http_port": 8080}))
    monkeypatch.setattr(runtime, "find_fleet", lambda scope, rid: rid)
    assert runtime.start_fleet(scope, spec(replicas=12)) == "r1"
    assert sorted(int(r["labels"][SLOT_LABEL]) for r in api.runs) == list(range(1, 13))
    assert all(r["healthcheck"] == NO_HEALTHCHECK for r in api.runs)
    assert ProbeSpec.from_label(api.runs[0]["labels"][PROBE_LABEL]).path == "/healthz"
    assert len(api.started) == 12 and api.runs[0]["host_config"]["network_mode"] == scope.network


def test_one_member_the_engine_refuses_fails_the_start_after_the_others_were_tried(tmp_path, monkeypatch):
    scope = Scope(tmp_path, tmp_path / ".bakery", "staging", "web")
    api = Api(fail_index=5)
    runtime = runtime_with(api, image_labels({"command": ["true"]}))
    with pytest.raises(EngineError, match="cannot start green container 5 of web 1.0.0: name in use"):
        runtime.start_fleet(scope, spec(replicas=8))
    assert len(api.runs) == 7  # the rest started; the unwind removes the fleet by label
    assert all(r["healthcheck"]["retries"] == 2 for r in api.runs)  # engine check kept
