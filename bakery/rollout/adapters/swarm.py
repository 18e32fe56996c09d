"""A Docker Swarm as a ``Runtime``: each colour's fleet is one Swarm service
(``<service>-<env>-<colour>``) created through the manager's engine over SSH; its members are the
service's tasks, each at its node's address and the host-mode port Swarm gave it.

What bakery leaves to the scheduler: placing tasks (spread by a node label), replacing a task
that dies or fails its health check (from the same image id), moving tasks off a drained node.
What it never does: update a running service's image. A rollout creates the other colour's
service; the old one is removed only when the rollback window ends (the state machine's
RemoveGreen / RetireOlder). A fleet read back always reflects the current tasks, so whoever reads
it (a repair run, the canary's probe, ``bakery status``) sees where Swarm put them.

The pure decisions (spec, members from tasks) are in ``swarm_spec.py``. Hosts, SSH clients and
image shipping are the SSH runtime's (``SshRuntime``), used as it is.
"""

from __future__ import annotations

import time
from typing import Any

import docker
import docker.errors
from docker.types import ServiceMode

from bakery.build.fingerprint import fingerprint_tag
from bakery.definitions.targets import HostSpec, Targets
from bakery.engine import labels
from bakery.engine.scope import Scope
from bakery.errors import BakeryError, EngineError, RolloutError
from bakery.model.fleet import Fleet
from bakery.rollout.adapters import swarm_spec as sw
from bakery.rollout.adapters.ssh import HOST_FAILURES, SshRuntime
from bakery.rollout.ports import FleetSpec, Sink, quiet

FAILURES_PER_SLOT = 2  # a slot whose tasks failed this often while waiting: the image is bad


class SwarmRuntime:
    """The ``Runtime`` for a definition with ``targets: {swarm: {manager: ...}}``."""

    def __init__(self, targets: Targets, state_dir: Any, emit: Sink = quiet,
                 local: docker.DockerClient | None = None):
        assert targets.swarm is not None
        self.targets = targets
        self.hosts = SshRuntime(targets, state_dir, emit, local)
        self.emit = emit
        # (ip, port) -> (colour, slot) of every member this runtime has read: a task that ended
        # loses its port in Swarm's task list, so where a canary's member was is kept here.
        self.seen: dict[tuple[str, int], tuple[str, int]] = {}

    # -- the manager ----------------------------------------------------------------------
    @property
    def manager_host(self) -> HostSpec:
        assert self.targets.swarm is not None
        return self.hosts.host(self.targets.swarm.manager)

    @property
    def manager(self) -> docker.DockerClient:
        """The manager's engine; RolloutError naming it when it does not answer."""
        host = self.manager_host
        try:
            return self.hosts.client(host)
        except HOST_FAILURES as exc:
            raise RolloutError(f"the Swarm manager {host.name} ({host.address}) does not answer: "
                               f"{exc}") from exc

    def _api(self, what: str, call: Any) -> Any:
        try:
            return call(self.manager.api)
        except docker.errors.APIError as exc:
            raise EngineError(f"Swarm manager {self.manager_host.name}: cannot {what}: "
                              f"{exc.explanation or exc}") from exc
        except HOST_FAILURES as exc:
            if isinstance(exc, BakeryError):
                raise
            raise RolloutError(f"the Swarm manager {self.manager_host.name} does not answer: {exc}") from exc

    def nodes(self) -> dict[str, sw.Node]:
        nodes = [sw.node_from(n) for n in self._api("list nodes", lambda api: api.nodes())]
        by_host = {h.name: h for h in self.targets.hosts}
        out = {}
        for n in nodes:
            if n.address in ("", "0.0.0.0", "127.0.0.1") and n.hostname in by_host:
                n = sw.Node(n.id, n.hostname, self.hosts.address(by_host[n.hostname]), n.availability,
                            n.state, n.labels)
            out[n.id] = n
        return out

    def host_of(self, node: sw.Node) -> HostSpec | None:
        """The ``targets.hosts`` entry of a node: by address, else by hostname."""
        for h in self.targets.hosts:
            if self.hosts.address(h) == node.address or h.name == node.hostname:
                return h
        return None

    def services(self, scope: Scope, rollout_id: str | None = None) -> list[dict[str, Any]]:
        wanted = scope.label_filter("service") + ([f"{labels.ROLLOUT_ID}={rollout_id}"] if rollout_id else [])
        return self._api("list services", lambda api: api.services(filters={"label": wanted}))

    def tasks(self, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not services:
            return []
        ids = [s["ID"] for s in services]
        return self._api("list tasks", lambda api: api.tasks(filters={"service": ids}))

    def _fleets(self, services: list[dict[str, Any]], tasks: list[dict[str, Any]],
                nodes: dict[str, sw.Node]) -> list[Fleet]:
        """Fleets read now; every address a member had is remembered for ``slot_at``."""
        fleets = sw.fleets_of(services, tasks, nodes)
        for fleet in fleets:
            for mb in fleet.members:
                if mb.ip and mb.port:
                    self.seen[(mb.ip, mb.port)] = (fleet.colour, mb.index)
        return fleets

    # -- Runtime ----------------------------------------------------------------------------
    def list_fleets(self, scope: Scope) -> list[Fleet]:
        services = self.services(scope)
        return self._fleets(services, self.tasks(services), self.nodes() if services else {})

    def find_fleet(self, scope: Scope, rollout_id: str) -> Fleet:
        services = self.services(scope, rollout_id)
        if not services:
            raise RolloutError(f"no Swarm service found for rollout {rollout_id}")
        return self._fleets(services, self.tasks(services), self.nodes())[0]

    def slot_at(self, scope: Scope, ip: str, port: int) -> tuple[str, int] | None:
        """(colour, slot) a task at ip:port stands or stood for: as this runtime read it, else
        from Swarm's task history (swarm_spec.slot_at)."""
        if (ip, port) in self.seen:
            return self.seen[(ip, port)]
        services = self.services(scope)
        return sw.slot_at(services, self.tasks(services), self.nodes() if services else {}, ip, port)

    def image_present(self, ref: str) -> bool:
        """The image is on this machine (it is shipped to the nodes when a fleet starts) and the
        manager answers: the one check made before any change."""
        try:
            self.hosts.local.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise EngineError(f"the engine did not answer about {ref}: {exc}") from exc
        self._api("reach the manager", lambda api: api.ping())
        return True

    def label_nodes(self, nodes: dict[str, sw.Node]) -> None:
        """Each node gets its host's placement labels (``targets.hosts[].labels``), which the
        service's spread preference reads; nodes that have them are not touched."""
        wanted = {n.hostname: dict(h.labels) for n in nodes.values() if (h := self.host_of(n)) is not None}
        for node_id, new in sw.node_labels_needed(list(nodes.values()), wanted).items():
            def update(api: Any, node_id: str = node_id, new: dict[str, str] = new) -> None:
                attrs = api.inspect_node(node_id)
                api.update_node(node_id, attrs["Version"]["Index"], {**attrs["Spec"], "Labels": new})
            self._api(f"label node {nodes[node_id].hostname}", update)

    def ship_all(self, nodes: dict[str, sw.Node], spec: FleetSpec) -> None:
        """The verified image onto every node that can take tasks, the SSH runtime's way: pulled
        by digest from bakery's registry (image id checked) when ``targets.registry`` names one,
        else save/load over SSH (a node that has it already is only checked)."""
        hosts, unknown = [], []
        for n in nodes.values():
            if n.state != "ready" or n.availability != "active":
                continue
            host = self.host_of(n)
            if host is None:
                unknown.append(n.hostname)
            else:
                hosts.append(host)
        if unknown:
            self.emit("warn", {"text": f"Swarm node(s) {', '.join(unknown)} are not in targets.hosts: "
                                       "the image cannot be shipped there, and tasks placed there will fail"})
        done = self.hosts._each(hosts, lambda host, client: self.hosts.ship(host, client, spec))
        if missing := sorted({h.name for h in hosts} - set(done)):
            raise EngineError(f"cannot ship {spec.image_name} {spec.version} to {', '.join(missing)}: "
                              + "; ".join(self.hosts.down.get(n, "") for n in missing))

    def make_secrets(self, scope: Scope, spec: FleetSpec) -> dict[str, str]:
        """One Swarm secret per secret of the definition, for this rollout; name -> secret id."""
        ids = {}
        for name, value in sorted(spec.environment.items()):
            full = sw.secret_name(scope, spec.rollout_id, name)
            lab = {**scope.labels("service"), labels.ROLLOUT_ID: spec.rollout_id, sw.SECRET_FOR_LABEL: name}
            found = self._api("list secrets", lambda api, full=full: api.secrets(filters={"name": full}))
            exact = [s for s in found if (s.get("Spec") or {}).get("Name") == full]
            if exact:  # a run interrupted after making it: the value is the environment's now
                self._api(f"remove secret {full}", lambda api, sid=exact[0]["ID"]: api.remove_secret(sid))
            made = self._api(f"create secret {full}", lambda api, full=full, value=value, lab=lab:
                             api.create_secret(full, value.encode(), labels=lab))
            ids[name] = made["ID"]
        return ids

    def start_fleet(self, scope: Scope, spec: FleetSpec) -> Fleet:
        existing = self.services(scope, spec.rollout_id)
        if existing:
            # A repair of the live fleet: Swarm has replaced (or is replacing) the dead tasks from
            # the same image itself; the repair then re-enlists the slots where they now run.
            self.emit("info", {"text": f"{spec.colour}: Swarm replaces tasks of {spec.image_name} "
                                       f"{spec.version} itself; their slots are re-enlisted where they run"})
            return self.find_fleet(scope, spec.rollout_id)
        name = sw.service_name(scope, spec.colour)
        if self._api("list services", lambda api: [s for s in api.services(filters={"name": name})
                                                  if s["Spec"]["Name"] == name]):
            raise RolloutError(f"a Swarm service {name} already exists and is not bakery's fleet "
                               f"{spec.rollout_id}; remove it (`docker service rm {name}` on the manager) "
                               "or run `bakery status` to see what runs")
        nodes = self.nodes()
        self.label_nodes(nodes)
        self.ship_all(nodes, spec)
        secrets = self.make_secrets(scope, spec)
        registry_ref = self.hosts.registry_ref(spec) if self.targets.registry is not None else None
        template = sw.task_template(scope, spec, secrets, self.targets.spread, registry_ref)
        self._api(f"create service {name}", lambda api: api.create_service(
            template, name=name, labels=sw.fleet_labels(scope, spec),
            mode=ServiceMode("replicated", replicas=spec.replicas), endpoint_spec=sw.endpoint(spec.port)))
        self.emit("info", {"text": f"{spec.colour}: Swarm service {name} created with {spec.replicas} "
                                   f"task(s) from {fingerprint_tag(spec.image_name, spec.fingerprint)}"})
        return self.find_fleet(scope, spec.rollout_id)

    def task_log(self, scope: Scope, rollout_id: str) -> str:
        services = self.services(scope, rollout_id)
        lines = []
        nodes = self.nodes() if services else {}
        for t in sorted(self.tasks(services), key=lambda t: (t.get("Slot", 0), t.get("CreatedAt", ""))):
            node = nodes.get(t.get("NodeID", ""))
            status = t.get("Status") or {}
            lines.append(f"  slot {t.get('Slot')} on {node.hostname if node else '-'}: {status.get('State')}"
                         + (f" ({status.get('Err')})" if status.get("Err") else ""))
        return "\n".join(lines[-12:])

    def wait_healthy(self, scope: Scope, rollout_id: str, timeout: float, poll: float = 0.5) -> Fleet:
        """Until every slot has a running task (Swarm's ``running`` means the image's health
        check passed); a slot whose tasks keep failing stops the wait at once."""
        deadline = time.monotonic() + timeout
        while True:
            services = self.services(scope, rollout_id)
            if not services:
                raise RolloutError(f"no Swarm service found for rollout {rollout_id}")
            tasks = self.tasks(services)
            fleet = self._fleets(services, tasks, self.nodes())[0]
            bad = {slot: errs for slot, errs in sw.failures(tasks).items() if len(errs) >= FAILURES_PER_SLOT}
            if bad:
                raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) is not healthy: Swarm had to "
                                   f"replace its tasks repeatedly:\n" + self.task_log(scope, rollout_id))
            if fleet.healthy:
                return fleet
            if time.monotonic() >= deadline:
                raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) did not become healthy "
                                   f"within {timeout:g}s:\n" + self.task_log(scope, rollout_id))
            time.sleep(poll)

    def _service(self, fleet: Fleet) -> dict[str, Any] | None:
        wanted = [f"{labels.ROLLOUT_ID}={fleet.rollout_id}", f"{labels.COLOUR}={fleet.colour}"]
        found = self._api("list services", lambda api: api.services(filters={"label": wanted}))
        return found[0] if found else None

    def _scale(self, fleet: Fleet, replicas: int) -> None:
        service = self._service(fleet)
        if service is None:
            return
        self._api(f"scale {service['Spec']['Name']}",
                  lambda api: api.update_service(service["ID"], service["Version"]["Index"],
                                                 mode=ServiceMode("replicated", replicas=replicas),
                                                 fetch_current_spec=True))

    def start_stopped(self, scope: Scope, fleet: Fleet) -> None:
        service = self._service(fleet)
        if service is not None and sw.scaled_down(service):
            self._scale(fleet, sw.service_replicas(service))

    def stop_fleet(self, fleet: Fleet) -> None:
        """Scaled to 0 (the service and its spec kept, for a start)."""
        self._scale(fleet, 0)

    def remove_fleet(self, fleet: Fleet) -> None:
        """The whole service and its secrets. A part of a fleet (a repair's dead members) is left
        to Swarm, which replaces tasks itself: bakery never removes single tasks."""
        service = self._service(fleet)
        if service is None:
            return
        if sw.is_part(fleet, service):
            return
        self._api(f"remove service {service['Spec']['Name']}", lambda api: api.remove_service(service["ID"]))
        self.remove_secrets_of(service)

    def remove_secrets_of(self, service: dict[str, Any]) -> None:
        """The service's Swarm secrets (same rollout, env and service labels)."""
        lab = service["Spec"].get("Labels") or {}
        wanted = [f"{key}={lab.get(key, '')}" for key in (labels.ROLLOUT_ID, labels.ENV, labels.SERVICE)]
        for s in self._api("list secrets", lambda api: api.secrets(filters={"label": wanted})):
            for attempt in range(20):  # in use until the service's removal has gone through
                try:
                    self.manager.api.remove_secret(s["ID"])
                    break
                except docker.errors.NotFound:
                    break
                except docker.errors.APIError as exc:
                    if attempt == 19:
                        self.emit("warn", {"text": f"secret {s['Spec']['Name']} not removed: {exc}"})
                    time.sleep(0.5)
