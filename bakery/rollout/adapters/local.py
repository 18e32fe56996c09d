"""The local Docker engine as a ``Runtime``: a fleet is containers found by their labels.

What runs is read back from labels, never from the journal alone. Nothing here execs into,
restarts or changes a running container (invariant 1): fleets are created and removed whole.

Members start ``spec.parallelism`` at a time, without an engine healthcheck when the spec names
a health path: bakery probes them over HTTP while they start (``startup.py``), and HAProxy's
checks watch them after that, so an idle fleet costs the engine nothing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import docker
import docker.errors
import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from bakery.engine import labels
from bakery.engine.client import engine
from bakery.engine.scope import SLOT_LABEL, Scope
from bakery.errors import EngineError, RolloutError
from bakery.model.fleet import Fleet, Member
from bakery.rollout.adapters import secret_files, secret_paths
from bakery.rollout.adapters.startup import PROBE_LABEL, Probes, ProbeSpec, bounded, http_check
from bakery.rollout.ports import FleetSpec

DEFAULT_PARALLELISM = 8  # stop/remove/start of a whole fleet, when no spec says otherwise
NO_HEALTHCHECK = {"test": ["NONE"]}  # the image's own HEALTHCHECK off: bakery probes instead


def probe_spec(spec: FleetSpec, image_labels: dict[str, str] | None = None) -> ProbeSpec | None:
    """How bakery probes the members while they start; None: the engine checks them, as before.

    The image's own HTTP healthcheck (from the definition bakery baked into its labels) is the
    gate, as the engine's check was: an image healthy for HAProxy's path but not for its own is
    still refused. An image whose check is a command keeps the engine healthcheck (there is
    nothing to probe over HTTP); one with no healthcheck is probed on the rollout's health path.
    """
    if not spec.health_path:
        return None
    path, port = spec.health_path, spec.port
    try:
        own = json.loads((image_labels or {}).get(labels.DEFINITION) or "{}").get("healthcheck") or {}
    except (ValueError, AttributeError):
        own = {}
    if own.get("command"):
        return None
    if own.get("http_path"):
        path, port = str(own["http_path"]), int(own.get("http_port") or spec.port)
    return ProbeSpec(path, port, spec.health_interval, spec.health_timeout, spec.health_retries,
                     spec.parallelism)


def engine_healthcheck(spec: FleetSpec) -> dict[str, int]:
    """The image's own health test, at the pace the rollout definition asks for, as the engine
    API takes it (nanoseconds); every Docker-engine runtime starts its members with it."""
    def ns(seconds: float) -> int:
        return int(seconds * 1_000_000_000)
    return {"interval": ns(spec.health_interval), "timeout": ns(spec.health_timeout),
            "retries": spec.health_retries}


def fleets_from_containers(containers: list[Any], network: str) -> list[Fleet]:
    """Group containers into fleets by rollout label, oldest fleet first. Pure over SDK objects."""
    fleets: dict[str, Fleet] = {}
    for c in containers:
        lab = c.labels or {}
        rid = lab.get(labels.ROLLOUT_ID, "")
        fleet = fleets.setdefault(rid, Fleet(
            rollout_id=rid, colour=lab.get(labels.COLOUR, ""), image_name=lab.get(labels.IMAGE_NAME, ""),
            version=lab.get(labels.IMAGE_VERSION, ""), fingerprint=lab.get(labels.FINGERPRINT, ""),
            created=c.attrs.get("Created", "")))
        state = c.attrs.get("State", {})
        nets = c.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
        health = (state.get("Health") or {}).get("Status", "none")
        ip = (nets.get(network) or {}).get("IPAddress", "")
        fleet.members.append(Member(c.id, c.name, int(lab.get(SLOT_LABEL, "0")),
                                    state.get("Status", c.status), health, ip))
    for fleet in fleets.values():
        fleet.members.sort(key=lambda m: m.index)
    return sorted(fleets.values(), key=lambda f: f.created)


@dataclass
class Listed:
    """A container as the engine's list endpoint gives it, shaped like the SDK's objects for
    ``fleets_from_containers``. The SDK's ``containers.list`` inspects every container after
    listing (one more call each): 200 calls per look at a swap of 100, many looks per rollout."""

    id: str
    name: str
    labels: dict[str, str]
    status: str
    attrs: dict[str, Any] = field(default_factory=dict)


def listed(row: dict[str, Any]) -> Listed:
    """One row of ``GET /containers/json``; health read from its status text ("Up 3s (healthy)")."""
    text = row.get("Status") or ""
    health = ("unhealthy" if "(unhealthy)" in text else "healthy" if "(healthy)" in text
              else "starting" if "health: starting" in text else "none")
    state = row.get("State") or ""
    created = datetime.fromtimestamp(int(row.get("Created") or 0), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Listed(row["Id"], ((row.get("Names") or ["/"])[0]).lstrip("/"), row.get("Labels") or {}, state,
                  {"Created": created, "State": {"Status": state, "Health": {"Status": health}},
                   "NetworkSettings": row.get("NetworkSettings") or {}})


class LocalRuntime:
    """Members are containers on the scope's bridge network; the balancer reaches them there."""

    def __init__(self, client: docker.DockerClient | None = None):
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        return self._client if self._client is not None else engine()

    def list_fleets(self, scope: Scope) -> list[Fleet]:
        try:
            rows = self.client.api.containers(all=True, filters={"label": scope.label_filter("service")})
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot list containers: {exc}") from exc
        # Oldest first, so fleets created within the same second keep their order.
        return fleets_from_containers([listed(r) for r in reversed(rows)], scope.network)

    def start_fleet(self, scope: Scope, spec: FleetSpec) -> Fleet:
        """Create and start the members, ``spec.parallelism`` at once. Secret values go in as files
        mounted at /run/secrets/<NAME> (as env only when the definition says ``secret_delivery:
        env``), nowhere else. Every member is attempted; the first failure is raised after all ended (the
        members that did start carry the rollout's labels, so the unwind removes them whole)."""
        client = self.client
        try:
            image_labels = client.images.get(spec.image_id).labels or {}
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot read image {spec.image_name} {spec.version}: {exc}") from exc
        probe = probe_spec(spec, image_labels)
        api = client.api
        mounts = self._secret_mounts(scope, spec)
        env = secret_paths.container_env(spec.secret_delivery, spec.environment)

        def start(index: int) -> None:
            lab = {**spec.labels(scope), SLOT_LABEL: str(index)}
            if probe is not None:
                lab[PROBE_LABEL] = probe.label()
            try:  # create + start, nothing more (the SDK's run() also inspects each one)
                created = api.create_container(
                    spec.image_id, name=scope.container_name(spec.colour, index, spec.rollout_id),
                    detach=True, labels=lab, environment=env,
                    healthcheck=NO_HEALTHCHECK if probe is not None else engine_healthcheck(spec),
                    host_config=api.create_host_config(network_mode=scope.network, binds=mounts or None),
                    networking_config=api.create_networking_config(
                        {scope.network: api.create_endpoint_config()}),
                )
                api.start(created["Id"])
            except docker.errors.APIError as exc:
                raise EngineError(f"cannot start {spec.colour} container {index} of {spec.image_name} "
                                  f"{spec.version}: {exc.explanation or exc}") from exc

        failures = [r for r in bounded(start, spec.indexes, spec.parallelism) if isinstance(r, BaseException)]
        if failures:
            if mounts and not self._containers(scope, spec.rollout_id):
                self._forget_secrets(spec.rollout_id)  # no member to unwind: the files go now
            raise failures[0]
        return self.find_fleet(scope, spec.rollout_id)

    def _secret_mounts(self, scope: Scope, spec: FleetSpec) -> list[str]:
        """Write the fleet's secret files here (the engine's machine) and say how to mount them."""
        if not secret_paths.delivers_files(spec.secret_delivery, spec.environment):
            return []
        if not secret_paths.engine_is_local(self.client.api.base_url):
            raise RolloutError(f"secrets as files need the engine on this machine, not "
                               f"{self.client.api.base_url}; say `secret_delivery: env` in the definition")
        directory = secret_paths.rollout_dir(secret_files.local_root(), scope.slug, spec.rollout_id)
        try:
            secret_files.write_local(directory, spec.environment)
        except OSError as exc:
            raise RolloutError(f"cannot write the secret files under {directory}: {exc}") from exc
        return secret_paths.binds(directory, tuple(spec.environment))

    def find_fleet(self, scope: Scope, rollout_id: str) -> Fleet:
        for fleet in self.list_fleets(scope):
            if fleet.rollout_id == rollout_id:
                return fleet
        raise RolloutError(f"no containers found for rollout {rollout_id}")

    def health_log(self, container_id: str, entries: int = 5) -> str:
        try:
            c = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return "(container gone)"
        state = c.attrs.get("State", {})
        lines = [f"{c.name}: status={state.get('Status')} health={(state.get('Health') or {}).get('Status')}"]
        for entry in ((state.get("Health") or {}).get("Log") or [])[-entries:]:
            out = (entry.get("Output") or "").strip().replace("\n", " ")[:200]
            lines.append(f"  {entry.get('Start', '')[:19]} exit={entry.get('ExitCode')} {out}")
        if state.get("Status") != "running":
            tail = c.logs(tail=10).decode("utf-8", "replace").strip()
            if tail:
                lines.append("  last log lines: " + tail.replace("\n", "\n    "))
        return "\n".join(lines)

    def wait_healthy(self, scope: Scope, rollout_id: str, timeout: float, poll: float = 0.25) -> Fleet:
        found = self._containers(scope, rollout_id)
        probes = {c.id: p for c in found if (p := ProbeSpec.from_label((c.labels or {}).get(PROBE_LABEL)))}
        if probes:
            return self._wait_probed(scope, rollout_id, timeout, probes, poll)
        return self._wait_engine(scope, rollout_id, timeout, poll)

    def _containers(self, scope: Scope, rollout_id: str) -> list[Any]:
        try:
            return [listed(r) for r in self.client.api.containers(all=True, filters={
                "label": [*scope.label_filter("service"), f"{labels.ROLLOUT_ID}={rollout_id}"]})]
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot list containers: {exc}") from exc

    def _wait_probed(self, scope: Scope, rollout_id: str, timeout: float, probes: dict[str, ProbeSpec],
                     poll: float) -> Fleet:
        """Probe every member over HTTP, ``parallelism`` at once, each ``interval``, until all pass
        (fleet returned with health=healthy), one stops or fails ``retries`` probes in a row, or
        ``timeout``. One listing per round, so a member that exits is named at once."""
        spec = next(iter(probes.values()))
        book = Probes(spec.retries, spec.interval)
        deadline = time.monotonic() + timeout
        parallelism = max(p.parallelism for p in probes.values())
        with httpx.Client(trust_env=False) as http:  # bridge addresses never go through a proxy
            while True:
                fleet = self.find_fleet(scope, rollout_id)
                stopped = [mb for mb in fleet.members if mb.status != "running"]
                if stopped:
                    raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) is not healthy:\n"
                                       + "\n".join(self.health_log(mb.container_id) for mb in stopped))
                waiting = [mb for mb in fleet.members if mb.container_id not in book.passed]

                def check(mb: Member) -> tuple[bool, str]:
                    p = probes.get(mb.container_id, spec)
                    return http_check(http, mb.ip, p.port, p.path, p.timeout)

                now = time.monotonic()
                for mb, result in zip(waiting, bounded(check, waiting, parallelism), strict=True):
                    ok, detail = result if isinstance(result, tuple) else (False, str(result))
                    book.record(mb.container_id, ok, detail, now)
                if not book.pending(mb.container_id for mb in fleet.members):
                    return replace(fleet, members=[replace(mb, health="healthy") for mb in fleet.members])
                sick = book.unhealthy()
                if sick:
                    raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) is not healthy:\n"
                                       + self._probe_log(fleet, book, sick))
                if time.monotonic() >= deadline:
                    pending = book.pending(mb.container_id for mb in fleet.members)
                    raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) did not become healthy "
                                       f"within {timeout:g}s:\n" + self._probe_log(fleet, book, pending))
                time.sleep(max(poll, min(spec.interval, deadline - time.monotonic())))

    @staticmethod
    def _probe_log(fleet: Fleet, book: Probes, ids: list[str]) -> str:
        lines = []
        for mb in fleet.members:
            if mb.container_id in ids:
                health = "unhealthy" if book.streak.get(mb.container_id, 0) >= book.retries else "starting"
                lines.append(f"{mb.name}: status={mb.status} health={health} "
                             f"(bakery's probe: {book.last.get(mb.container_id, 'not probed yet')})")
        return "\n".join(lines)

    def _wait_engine(self, scope: Scope, rollout_id: str, timeout: float, poll: float) -> Fleet:
        """Members started with an engine healthcheck (fleets from before, or no health path)."""
        def check(fleet: Fleet) -> Fleet:
            bad = [m for m in fleet.members if m.status != "running" or m.health == "unhealthy"]
            if bad:  # raised inside the attempt: not retried, since only results are retried
                raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) is not healthy:\n"
                                   + "\n".join(self.health_log(m.container_id) for m in bad))
            return fleet

        fleet = None
        try:
            for attempt in Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(poll),
                                    retry=retry_if_result(lambda f: not f.healthy)):
                with attempt:
                    fleet = check(self.find_fleet(scope, rollout_id))
                if not attempt.retry_state.outcome.failed:
                    attempt.retry_state.set_result(fleet)
        except RetryError:
            fleet = self.find_fleet(scope, rollout_id)
            raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) did not become healthy within "
                               f"{timeout:g}s:\n"
                               + "\n".join(self.health_log(m.container_id) for m in fleet.members)) from None
        assert fleet is not None
        return fleet

    def start_stopped(self, scope: Scope, fleet: Fleet) -> None:
        client = self.client
        self._each(fleet, lambda m: client.api.start(m.container_id) if m.status != "running" else None)

    def stop_fleet(self, fleet: Fleet) -> None:
        client = self.client
        self._each(fleet, lambda m: client.api.stop(m.container_id, timeout=10), parallelism=1)

    def remove_fleet(self, fleet: Fleet) -> None:
        """The members given; the fleet's secret files too once none of its members is left (a
        repair removes only the dead ones, and the rest still read theirs)."""
        client = self.client
        self._each(fleet, lambda m: client.api.remove_container(m.container_id, force=True), parallelism=1)
        if not fleet.rollout_id:
            return
        try:
            left = client.api.containers(all=True,
                                         filters={"label": f"{labels.ROLLOUT_ID}={fleet.rollout_id}"})
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot list containers: {exc}") from exc
        if not left:
            self._forget_secrets(fleet.rollout_id)

    @staticmethod
    def _forget_secrets(rollout_id: str) -> None:
        root = secret_paths.local_root(os.getuid(), os.environ.get("XDG_RUNTIME_DIR"))
        if root is not None:
            secret_files.remove_local(root, rollout_id)

    @staticmethod
    def _each(fleet: Fleet, act: Any, parallelism: int = DEFAULT_PARALLELISM) -> None:
        """``act`` on every member, ``parallelism`` at once; a member already gone is not an
        error, any other failure is raised once every member was attempted.

        Stop and remove go one at a time: Docker 20.10 removing containers of one network
        concurrently leaves endpoints behind ("network ... has active endpoints" with none
        listed), and the network can then never be removed. Measured: 30 members removed 8
        at a time left one every time; one at a time, none. They are off a swap's path."""
        results = bounded(act, fleet.members, parallelism)
        for result in results:
            if isinstance(result, docker.errors.NotFound):
                continue
            if isinstance(result, docker.errors.APIError):
                raise EngineError(f"the engine refused a change to the {fleet.colour} fleet: "
                                  f"{result.explanation or result}") from result
            if isinstance(result, BaseException):
                raise result

    def image_present(self, ref: str) -> bool:
        try:
            self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise EngineError(f"the engine did not answer about {ref}: {exc}") from exc
        return True
