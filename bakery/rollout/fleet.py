"""Fleets on the engine: the containers of one rollout (one colour), found by their labels.

What runs is read back from labels, never from the journal alone. Nothing here execs into,
restarts or changes a running container (invariant 1): fleets are created and removed whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import docker.errors
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from bakery.engine import labels
from bakery.engine.client import engine
from bakery.errors import EngineError, RolloutError
from bakery.rollout.scope import SLOT_LABEL, Scope


@dataclass
class Member:
    container_id: str
    name: str
    index: int
    status: str  # running, exited, created ...
    health: str  # healthy, unhealthy, starting, none
    ip: str


@dataclass
class Fleet:
    rollout_id: str
    colour: str
    image_name: str
    version: str
    fingerprint: str
    created: str
    members: list[Member] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return bool(self.members) and all(m.status == "running" for m in self.members)

    @property
    def healthy(self) -> bool:
        return self.running and all(m.health in ("healthy", "none") for m in self.members)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def list_fleets(scope: Scope) -> list[Fleet]:
    """Every fleet of this env+service, oldest first."""
    try:
        containers = engine().containers.list(all=True, filters={"label": scope.label_filter("service")})
    except docker.errors.APIError as exc:
        raise EngineError(f"cannot list containers: {exc}") from exc
    fleets: dict[str, Fleet] = {}
    for c in containers:
        lab = c.labels or {}
        rid = lab.get(labels.ROLLOUT_ID, "")
        fleet = fleets.setdefault(rid, Fleet(
            rollout_id=rid, colour=lab.get(labels.COLOUR, ""), image_name=lab.get(labels.IMAGE_NAME, ""),
            version=lab.get(labels.IMAGE_VERSION, ""), fingerprint=lab.get(labels.FINGERPRINT, ""),
            created=c.attrs.get("Created", "")))
        fleet.members.append(_member(c, scope))
    for fleet in fleets.values():
        fleet.members.sort(key=lambda m: m.index)
    return sorted(fleets.values(), key=lambda f: f.created)


def _member(c, scope: Scope) -> Member:  # noqa: ANN001 - docker Container
    state = c.attrs.get("State", {})
    health = (state.get("Health") or {}).get("Status", "none")
    nets = c.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
    ip = (nets.get(scope.network) or {}).get("IPAddress", "")
    return Member(c.id, c.name, int((c.labels or {}).get(SLOT_LABEL, "0")), state.get("Status", c.status),
                  health, ip)


def start_fleet(scope: Scope, *, image_id: str, image_name: str, version: str, fingerprint: str,
                colour: str, rollout_id: str, replicas: int, port: int, health_interval: float,
                health_timeout: float, health_retries: int, environment: dict[str, str]) -> Fleet:
    """Create and start ``replicas`` new containers. Secret values go in as env, nowhere else."""
    client = engine()
    for index in range(1, replicas + 1):
        lab = {**scope.labels("service"), labels.COLOUR: colour, labels.IMAGE_NAME: image_name,
               labels.IMAGE_VERSION: version, labels.FINGERPRINT: fingerprint,
               labels.ROLLOUT_ID: rollout_id, SLOT_LABEL: str(index)}
        try:
            client.containers.run(
                image_id, name=scope.container_name(colour, index, rollout_id), detach=True,
                network=scope.network, labels=lab, environment=environment,
                # The image's own health test, at the pace the rollout definition asks for.
                healthcheck={"interval": _ns(health_interval), "timeout": _ns(health_timeout),
                             "retries": health_retries},
            )
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot start {colour} container {index} of {image_name} {version}: "
                              f"{exc.explanation or exc}") from exc
    return find_fleet(scope, rollout_id)


def find_fleet(scope: Scope, rollout_id: str) -> Fleet:
    for fleet in list_fleets(scope):
        if fleet.rollout_id == rollout_id:
            return fleet
    raise RolloutError(f"no containers found for rollout {rollout_id}")


def health_log(container_id: str, entries: int = 5) -> str:
    try:
        c = engine().containers.get(container_id)
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


def wait_healthy(scope: Scope, rollout_id: str, timeout: float, poll: float = 0.25) -> Fleet:
    """Until every member reports healthy; RolloutError with the health log if one never does."""
    def check(fleet: Fleet) -> Fleet:
        bad = [m for m in fleet.members if m.status != "running" or m.health == "unhealthy"]
        if bad:  # raised inside the attempt: not retried, since only results are retried
            raise RolloutError("green container is not healthy:\n"
                               + "\n".join(health_log(m.container_id) for m in bad))
        return fleet

    fleet = None
    try:
        for attempt in Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(poll),
                                retry=retry_if_result(lambda f: not f.healthy)):
            with attempt:
                fleet = check(find_fleet(scope, rollout_id))
            if not attempt.retry_state.outcome.failed:
                attempt.retry_state.set_result(fleet)
    except RetryError:
        fleet = find_fleet(scope, rollout_id)
        raise RolloutError(f"green did not become healthy within {timeout:g}s:\n"
                           + "\n".join(health_log(m.container_id) for m in fleet.members)) from None
    assert fleet is not None
    return fleet


def start_stopped(scope: Scope, fleet: Fleet) -> None:
    """Start the containers of a stopped (not serving) fleet, e.g. before a rollback."""
    for m in fleet.members:
        if m.status != "running":
            engine().containers.get(m.container_id).start()


def remove_fleet(fleet: Fleet) -> None:
    for m in fleet.members:
        try:
            engine().containers.get(m.container_id).remove(force=True)
        except docker.errors.NotFound:
            continue
