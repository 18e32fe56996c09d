"""The pure half of the Swarm runtime: names, the service spec bakery creates for a colour, and
what the tasks Swarm reports mean as a fleet's members. No I/O: each decision is a unit test
(tests/unit/test_swarm_spec.py); ``swarm.py`` does the calls.

Why these choices (measured on the test cluster, see docs in README "On a Swarm"):

- **Host-mode publishing with no fixed port.** The ingress routing mesh does not answer on these
  machines (no ``ip_vs``); ``PublishMode: host`` without ``PublishedPort`` makes each task bind a
  port of its own from the node's ephemeral range, reported in the task's
  ``Status.PortStatus``. Two tasks of one service on one node (after a drain) never collide, and
  HAProxy's slot points at node:that port.
- **The image by digest or id, never a tag** (``image_reference``): with ``targets.registry``
  the service names the registry's ``NAME@sha256:...`` (every node pulled it and had its image id
  checked before the service exists); without one, the image id, shipped by save/load: an id is
  the digest of the image's content, and Swarm's agent skips its pull for an id (for a tag that
  exists only on the node it first tries Docker Hub, fails, logs an error and then runs the
  local image; with a network it could pull someone else's image of that name).
- **Members per slot.** A replicated service's tasks carry slots 1..replicas and a replacement
  task keeps its slot, which is the balancer slot bakery gives it. Every slot is a member even
  when no task runs for it (``missing``), so a fleet read back always covers 1..replicas: a
  fleet with fewer slots is a part of one (a repair), never the whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from docker.types import ContainerSpec, Placement, RestartPolicy, SecretReference, TaskTemplate

from bakery.engine import labels
from bakery.engine.scope import Scope
from bakery.model.fleet import Fleet, Member
from bakery.rollout.ports import FleetSpec

REPLICAS_LABEL = f"{labels.PREFIX}.replicas"  # the fleet's size, kept when it is scaled to 0 (stopped)
SECRET_FOR_LABEL = f"{labels.PREFIX}.secret-for"  # the service a Swarm secret belongs to
SECRETS_DIR = "/run/secrets"

# Task states (swarmkit's api.TaskState) on the way to running, and those a task never leaves.
STARTING = ("new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting")
ENDED = ("complete", "shutdown", "failed", "rejected", "remove", "orphaned")
FAILED = ("failed", "rejected")


def service_name(scope: Scope, colour: str) -> str:
    """``<service>-<env>-<colour>``: one Swarm service per colour."""
    return f"{scope.service}-{scope.env}-{colour}"


def secret_name(scope: Scope, rollout_id: str, name: str) -> str:
    """One Swarm secret per secret and rollout (secrets are immutable in Swarm: a new value is a
    new secret, and the next rollout's never disturbs the live one's)."""
    return f"{scope.service}-{scope.env}-{rollout_id[-8:]}-{name}"[:64]


def image_reference(spec: FleetSpec, registry_ref: str | None = None) -> str:
    """THE one place that says which image reference a service is created from: with a
    registry, its ``host:port/bakery/NAME@sha256:...`` digest reference (every node has pulled
    it by digest and had its image id checked before the service exists); without one, the
    verified build's id, shipped to every node by save/load. Never a mutable tag."""
    return registry_ref or spec.image_id


def fleet_labels(scope: Scope, spec: FleetSpec) -> dict[str, str]:
    """Labels of the service and of each task's container, like the local and SSH fleets'."""
    return {**spec.labels(scope), REPLICAS_LABEL: str(spec.replicas)}


# Swarm kills and replaces a task whose health check fails (an engine on its own only marks the
# container). Under load a slow exec-based check would have Swarm churn tasks that only answer
# slowly, each coming back on a new port; HAProxy's own check at the definition's pace already
# takes a slow member out of rotation. So Swarm's check runs at most once a second and kills only
# after RETRIES_FACTOR times the definition's threshold.
MIN_INTERVAL = 1.0
RETRIES_FACTOR = 3


def health(spec: FleetSpec) -> dict[str, int]:
    """The image's own health test (no ``Test``: the engine keeps the image's); Swarm reports a
    task ``running`` only once it passes, and replaces one that keeps failing it."""
    def ns(seconds: float) -> int:
        return int(seconds * 1_000_000_000)
    return {"Interval": ns(max(spec.health_interval, MIN_INTERVAL)), "Timeout": ns(spec.health_timeout),
            "Retries": spec.health_retries * RETRIES_FACTOR}


def endpoint(port: int) -> dict[str, Any]:
    """Publish the service port in host mode on a port Swarm picks per task."""
    return {"Ports": [{"Protocol": "tcp", "TargetPort": port, "PublishMode": "host"}]}


def placement(spread_label: str) -> Placement:
    """Spread replicas across the values of a node label first (Swarm's placement preference)."""
    return Placement(preferences=[("spread", f"node.labels.{spread_label}")])


def task_template(scope: Scope, spec: FleetSpec, secrets: dict[str, str], spread_label: str,
                  registry_ref: str | None = None) -> TaskTemplate:
    """``secrets``: the definition's secret name -> the Swarm secret's id. Each is a file
    ``/run/secrets/<name>``; nothing goes into the environment."""
    refs = [SecretReference(secret_id, secret_name(scope, spec.rollout_id, name), filename=name, uid="0",
                            gid="0", mode=0o444)
            for name, secret_id in sorted(secrets.items())]
    container = ContainerSpec(image_reference(spec, registry_ref), labels=fleet_labels(scope, spec),
                              secrets=refs or None, healthcheck=health(spec))
    return TaskTemplate(container, restart_policy=RestartPolicy(condition="any", delay=1_000_000_000),
                        placement=placement(spread_label))


def service_replicas(service: dict[str, Any]) -> int:
    """The fleet's size: the label (kept through a stop), else the spec's replica count."""
    lab = (service.get("Spec") or {}).get("Labels") or {}
    if lab.get(REPLICAS_LABEL, "").isdigit():
        return int(lab[REPLICAS_LABEL])
    return int((((service.get("Spec") or {}).get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0))


def scaled_down(service: dict[str, Any]) -> bool:
    """A stopped fleet: bakery scaled its service to 0 and keeps it for a start."""
    mode = ((service.get("Spec") or {}).get("Mode") or {}).get("Replicated") or {}
    return mode.get("Replicas", 0) == 0


def published_port(task: dict[str, Any], target: int) -> int:
    """The node port a task's ``target`` port is published on (0: none yet)."""
    for p in ((task.get("Status") or {}).get("PortStatus") or {}).get("Ports") or []:
        if p.get("TargetPort") == target and p.get("PublishMode") == "host":
            return int(p.get("PublishedPort") or 0)
    return 0


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    address: str
    availability: str = "active"  # active, pause, drain
    state: str = "ready"
    labels: dict[str, str] = field(default_factory=dict, hash=False)


def node_from(attrs: dict[str, Any]) -> Node:
    spec, desc, status = attrs.get("Spec") or {}, attrs.get("Description") or {}, attrs.get("Status") or {}
    return Node(attrs.get("ID", ""), desc.get("Hostname", ""), status.get("Addr", ""),
                spec.get("Availability", "active"), status.get("State", "unknown"),
                dict(spec.get("Labels") or {}))


def current_task(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of one slot's tasks, the one that stands for it now: the newest Swarm wants running."""
    wanted = [t for t in tasks if t.get("DesiredState") == "running"]
    return max(wanted, key=lambda t: (t.get("CreatedAt", ""), (t.get("Version") or {}).get("Index", 0)),
               default=None)


def target_port(service: dict[str, Any]) -> int:
    """The service port bakery published (the definition's ``port``), read back from the spec."""
    ports = (((service.get("Spec") or {}).get("EndpointSpec") or {}).get("Ports")) or [{}]
    return int(ports[0].get("TargetPort") or 0)


def member_of(service_name_: str, slot: int, task: dict[str, Any] | None, nodes: dict[str, Node],
              port: int) -> Member:
    """What a slot's current task means as a member: running and healthy (Swarm says ``running``
    only after the image's health check passed), starting, or gone; at node address:host port."""
    if task is None:
        return Member("", f"-/{service_name_}.{slot}", slot, "missing", "none", "", 0)
    node = nodes.get(task.get("NodeID", ""))
    state = (task.get("Status") or {}).get("State", "")
    cid = (((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")) or ""
    where = node.hostname if node else "-"
    name = f"{where}/{service_name_}.{slot}"
    if state == "running":
        status, health_ = "running", "healthy"
    elif state in STARTING:
        status, health_ = "created", "starting"
    else:
        status, health_ = "exited", "unhealthy"
    ip = node.address if node else ""
    return Member(f"{task.get('ID', '')}:{cid}", name, slot, status, health_, ip, published_port(task, port))


def fleet_of(service: dict[str, Any], tasks: list[dict[str, Any]], nodes: dict[str, Node]) -> Fleet:
    """A service and its tasks as a fleet: one member per slot 1..replicas (none when stopped)."""
    lab = (service.get("Spec") or {}).get("Labels") or {}
    name = (service.get("Spec") or {}).get("Name", "")
    fleet = Fleet(rollout_id=lab.get(labels.ROLLOUT_ID, ""), colour=lab.get(labels.COLOUR, ""),
                  image_name=lab.get(labels.IMAGE_NAME, ""), version=lab.get(labels.IMAGE_VERSION, ""),
                  fingerprint=lab.get(labels.FINGERPRINT, ""), created=service.get("CreatedAt", ""))
    by_slot: dict[int, list[dict[str, Any]]] = {}
    for t in tasks:
        by_slot.setdefault(int(t.get("Slot") or 0), []).append(t)
    if scaled_down(service):
        # Stopped: its slots are members that do not run, so the fleet reads as stopped.
        fleet.members = [Member("", f"-/{name}.{slot}", slot, "exited", "none", "", 0)
                         for slot in range(1, service_replicas(service) + 1)]
        return fleet
    port = target_port(service)
    fleet.members = [member_of(name, slot, current_task(by_slot.get(slot, [])), nodes, port)
                     for slot in range(1, service_replicas(service) + 1)]
    return fleet


def fleets_of(services: list[dict[str, Any]], tasks: list[dict[str, Any]],
              nodes: dict[str, Node]) -> list[Fleet]:
    """Every service's fleet, oldest first."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for t in tasks:
        by_service.setdefault(t.get("ServiceID", ""), []).append(t)
    fleets = [fleet_of(s, by_service.get(s.get("ID", ""), []), nodes) for s in services]
    return sorted(fleets, key=lambda f: f.created)


def is_part(fleet: Fleet, service: dict[str, Any]) -> bool:
    """Whether ``fleet`` names only some of its service's slots (a repair's dead members): Swarm
    replaces tasks itself, so a part is never removed, only a whole fleet is."""
    slots = set(range(1, service_replicas(service) + 1))
    return bool(fleet.members) and {m.index for m in fleet.members} < slots


def failures(tasks: Iterable[dict[str, Any]]) -> dict[int, list[str]]:
    """Per slot, the errors of its tasks that failed (the image exits, or fails its health check)."""
    out: dict[int, list[str]] = {}
    for t in tasks:
        status = t.get("Status") or {}
        if status.get("State") in FAILED:
            why = status.get("Err") or status.get("Message") or ""
            out.setdefault(int(t.get("Slot") or 0), []).append(why)
    return out


def node_labels_needed(nodes: list[Node], wanted: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Per node id, the labels it must have set (``wanted``: per node hostname, the placement labels
    of its host in ``targets:``); nodes that already have them are left out."""
    out = {}
    for n in nodes:
        want = wanted.get(n.hostname) or {}
        if any(n.labels.get(k) != v for k, v in want.items()):
            out[n.id] = {**n.labels, **want}
    return out


def task_rows(services: list[dict[str, Any]], tasks: list[dict[str, Any]],
              nodes: dict[str, Node]) -> list[dict[str, Any]]:
    """For `bakery status`: per service (colour) and node, tasks desired vs running."""
    rows = []
    for s in services:
        lab = (s.get("Spec") or {}).get("Labels") or {}
        mine = [t for t in tasks if t.get("ServiceID") == s.get("ID")]
        desired = ((s.get("Spec") or {}).get("Mode") or {}).get("Replicated", {}).get("Replicas", 0)
        per_node: dict[str, dict[str, int]] = {}
        for t in mine:
            node = nodes.get(t.get("NodeID", ""))
            key = node.hostname if node else "-"
            row = per_node.setdefault(key, {"desired": 0, "running": 0})
            if t.get("DesiredState") == "running":
                row["desired"] += 1
            if (t.get("Status") or {}).get("State") == "running":
                row["running"] += 1
        rows.append({"service": (s.get("Spec") or {}).get("Name", ""), "colour": lab.get(labels.COLOUR, ""),
                     "version": lab.get(labels.IMAGE_VERSION, ""), "desired": desired,
                     "running": sum(r["running"] for r in per_node.values()),
                     "nodes": {k: per_node[k] for k in sorted(per_node)}})
    return rows



def moved_slots(fleets: list[Fleet], stats: dict[str, Any] | None) -> list[tuple[str, int, str, int]]:
    """(colour, slot, ip, port) for each balancer slot in use (not in maintenance) whose task
    Swarm has moved (replaced after a death, or off a drained node): the running member of that
    slot is now elsewhere. One service per colour, so a colour's slots are its one fleet's."""
    if not stats:
        return []
    out = []
    for fleet in fleets:
        for mb in fleet.members:
            if mb.status != "running" or not mb.ip or not mb.port:
                continue
            slot = stats.get(f"{fleet.colour}{mb.index}")
            if slot is None or slot.in_maint:
                continue
            if slot.addr != f"{mb.ip}:{mb.port}":
                out.append((fleet.colour, mb.index, mb.ip, mb.port))
    return out


def slot_at(services: list[dict[str, Any]], tasks: list[dict[str, Any]], nodes: dict[str, Node], ip: str,
            port: int) -> tuple[str, int] | None:
    """(colour, slot) of the task, current or past (Swarm keeps a few per slot), that published
    ``port`` on the node at ``ip``: which slot an address a canary started with stands for."""
    colours = {s.get("ID"): ((s.get("Spec") or {}).get("Labels") or {}).get(labels.COLOUR, "")
               for s in services}
    for t in tasks:
        node = nodes.get(t.get("NodeID", ""))
        target = target_port(next((s for s in services if s.get("ID") == t.get("ServiceID")), {}))
        if node is not None and node.address == ip and published_port(t, target) == port:
            return colours.get(t.get("ServiceID"), ""), int(t.get("Slot") or 0)
    return None
