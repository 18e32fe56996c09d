"""The local Docker engine as a ``Runtime``: a fleet is containers found by their labels.

What runs is read back from labels, never from the journal alone. Nothing here execs into,
restarts or changes a running container (invariant 1): fleets are created and removed whole.
"""

from __future__ import annotations

from typing import Any

import docker
import docker.errors
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from bakery.engine import labels
from bakery.engine.client import engine
from bakery.engine.scope import SLOT_LABEL, Scope
from bakery.errors import EngineError, RolloutError
from bakery.model.fleet import Fleet, Member
from bakery.rollout.ports import FleetSpec


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


class LocalRuntime:
    """Members are containers on the scope's bridge network; the balancer reaches them there."""

    def __init__(self, client: docker.DockerClient | None = None):
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        return self._client if self._client is not None else engine()

    def list_fleets(self, scope: Scope) -> list[Fleet]:
        try:
            found = self.client.containers.list(all=True, filters={"label": scope.label_filter("service")})
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot list containers: {exc}") from exc
        return fleets_from_containers(found, scope.network)

    def start_fleet(self, scope: Scope, spec: FleetSpec) -> Fleet:
        """Create and start the members. Secret values go in as env, nowhere else."""
        for index in spec.indexes:
            lab = {**scope.labels("service"), labels.COLOUR: spec.colour, labels.IMAGE_NAME: spec.image_name,
                   labels.IMAGE_VERSION: spec.version, labels.FINGERPRINT: spec.fingerprint,
                   labels.ROLLOUT_ID: spec.rollout_id, SLOT_LABEL: str(index)}
            try:
                self.client.containers.run(
                    spec.image_id, name=scope.container_name(spec.colour, index, spec.rollout_id),
                    detach=True, network=scope.network, labels=lab, environment=spec.environment,
                    healthcheck=engine_healthcheck(spec),
                )
            except docker.errors.APIError as exc:
                raise EngineError(f"cannot start {spec.colour} container {index} of {spec.image_name} "
                                  f"{spec.version}: {exc.explanation or exc}") from exc
        return self.find_fleet(scope, spec.rollout_id)

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
        for m in fleet.members:
            if m.status != "running":
                self.client.containers.get(m.container_id).start()

    def stop_fleet(self, fleet: Fleet) -> None:
        for m in fleet.members:
            try:
                self.client.containers.get(m.container_id).stop(timeout=10)
            except docker.errors.NotFound:
                continue

    def remove_fleet(self, fleet: Fleet) -> None:
        for m in fleet.members:
            try:
                self.client.containers.get(m.container_id).remove(force=True)
            except docker.errors.NotFound:
                continue

    def image_present(self, ref: str) -> bool:
        try:
            self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise EngineError(f"the engine did not answer about {ref}: {exc}") from exc
        return True
