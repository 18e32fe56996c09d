"""Hosts over SSH as a ``Runtime``: each member is a container on one host's engine, published on
a host port bakery picks; the load balancer (still on this machine) points its slots at
host:port.

Engine calls go through the docker SDK over SSH with bakery's key and known_hosts
(``bakery/hosts/engine.py``). Images reach the hosts through bakery's registry when
``targets.registry`` names one: pushed once (when the registry lacks it), pulled by every host
by digest. Without a registry, ``docker save`` from the local engine is streamed into ``docker
load`` on each host that lacks the image. Either way the id the host then has must be the
verified build's (an image id is the digest of its content): otherwise the host is refused.

A host that does not answer is left out and reported (``down``), never waited for: fleets are
read from the hosts that answer, and a new fleet is placed on them.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
import paramiko

from bakery.build.fingerprint import fingerprint_tag
from bakery.definitions.targets import HostSpec, Targets
from bakery.engine import labels
from bakery.engine.client import engine
from bakery.engine.scope import SLOT_LABEL, Scope
from bakery.errors import BakeryError, EngineError, RolloutError
from bakery.hosts.engine import host_engine
from bakery.hosts.placement import place
from bakery.hosts.ship import have_openssh, stream_load
from bakery.model.fleet import Fleet, Member
from bakery.registry.push import check_pulled, ensure_pushed
from bakery.registry.trust import trust_on
from bakery.rollout.adapters import secret_files, secret_paths
from bakery.rollout.adapters.local import engine_healthcheck, fleets_from_containers
from bakery.rollout.ports import FleetSpec, Sink, quiet

HOST_LABEL = f"{labels.PREFIX}.host"
HOST_PORT_LABEL = f"{labels.PREFIX}.host-port"
FIRST_PORT = 20000  # host ports bakery publishes members on: the first free one from here
LAST_PORT = 29999
CONTROL_TIMEOUT = 15.0  # seconds an engine call on a host may take before the host counts as down
SHIP_TIMEOUT = 600.0


# What a call to a host raises when the host (or the way to it) fails, rather than its engine.
HOST_FAILURES = (BakeryError, docker.errors.DockerException, OSError, EOFError, paramiko.SSHException)


def pick_port(used: set[int], first: int = FIRST_PORT, last: int = LAST_PORT) -> int:
    """The lowest port of the range no container on the host publishes. Pure."""
    for port in range(first, last + 1):
        if port not in used:
            return port
    raise RolloutError(f"no free host port left in {first}..{last}")


def published_ports(containers: list[Any]) -> set[int]:
    """Host ports the containers publish or claim (running or not): bindings and bakery's label."""
    used: set[int] = set()
    for c in containers:
        if port := (c.labels or {}).get(HOST_PORT_LABEL, ""):
            used.add(int(port))
        for bindings in ((c.attrs.get("HostConfig") or {}).get("PortBindings") or {}).values():
            for b in bindings or []:
                if str(b.get("HostPort") or "").isdigit():
                    used.add(int(b["HostPort"]))
    return used


class SshRuntime:
    """The ``Runtime`` for a definition with ``targets:``."""

    def __init__(self, targets: Targets, state_dir: Path, emit: Sink = quiet,
                 local: docker.DockerClient | None = None):
        self.targets = targets
        self.state_dir = state_dir
        self.emit = emit
        self._local = local
        self._clients: dict[str, docker.DockerClient] = {}
        self._addresses: dict[str, str] = {}
        self.down: dict[str, str] = {}  # host name -> why it does not answer
        self._lock = threading.Lock()
        self._pushed: dict[str, str] = {}  # image id -> the digest reference hosts pull
        self._trusted: set[str] = set()  # hosts given the registry's CA during this command

    # -- hosts ------------------------------------------------------------------------
    @property
    def local(self) -> docker.DockerClient:
        return self._local if self._local is not None else engine()

    def host(self, name: str) -> HostSpec:
        return next(h for h in self.targets.hosts if h.name == name)

    def client(self, host: HostSpec) -> docker.DockerClient:
        """For control calls (list, start, stop): a short timeout, so a host that dies mid-call
        is known as down within CONTROL_TIMEOUT rather than after TCP gives up."""
        with self._lock:
            if host.name in self._clients:
                return self._clients[host.name]
        client = host_engine(host, self.state_dir, timeout=CONTROL_TIMEOUT)
        with self._lock:
            self._clients[host.name] = client
        return client

    def shipper(self, host: HostSpec) -> docker.DockerClient:
        """For image loads, which may be quiet for long on a slow disk: a long timeout."""
        key = f"{host.name}#ship"
        with self._lock:
            if key in self._clients:
                return self._clients[key]
        client = host_engine(host, self.state_dir, timeout=SHIP_TIMEOUT)
        with self._lock:
            self._clients[key] = client
        return client

    def address(self, host: HostSpec) -> str:
        """The IP HAProxy is given for the host (its runtime API takes addresses, not names)."""
        if host.name not in self._addresses:
            try:
                self._addresses[host.name] = socket.gethostbyname(host.address)
            except OSError as exc:
                raise EngineError(f"{host.name}: cannot resolve {host.address}: {exc}") from None
        return self._addresses[host.name]

    def _mark_down(self, host: HostSpec, exc: Exception) -> None:
        with self._lock:
            first = host.name not in self.down
            self.down[host.name] = str(exc)
            clients = [self._clients.pop(k) for k in (host.name, f"{host.name}#ship") if k in self._clients]
        for client in clients:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - a dead transport may fail to close; it is gone anyway
                pass
        if first:
            self.emit("warn", {"text": f"host {host.name} ({host.address}) does not answer: {exc}"})

    def _each(self, hosts: list[HostSpec] | tuple[HostSpec, ...], action: Any) -> dict[str, Any]:
        """``action(host, client)`` on every host at once; hosts that fail are marked down and
        left out of the answer. A host once down stays down for this command (one runtime per
        command): it is not dialled again on every poll."""
        hosts = [h for h in hosts if h.name not in self.down]
        if not hosts:
            return {}

        def one(host: HostSpec) -> tuple[str, Any]:
            try:
                return host.name, action(host, self.client(host))
            except HOST_FAILURES as exc:
                if isinstance(exc, docker.errors.APIError) and exc.response is not None:
                    raise  # the engine answered: a real error, not a dead host
                if isinstance(exc, RolloutError):
                    raise  # a host refused (e.g. not the verified image): it answers, the run stops
                self._mark_down(host, exc)
                return host.name, None

        with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
            results = dict(pool.map(one, hosts))
        return {name: value for name, value in results.items() if name not in self.down}

    def check_host_at(self, ip: str) -> None:
        """RolloutError when the host with this address does not answer (pinged now)."""
        for host in self.targets.hosts:
            if self.address(host) == ip:
                self._each([host], lambda h, client: client.ping())
                if host.name in self.down:
                    raise RolloutError(f"host {host.name} ({host.address}) does not answer: "
                                       f"{self.down[host.name]}")

    def answering(self) -> list[HostSpec]:
        """The hosts whose engine answers now (each is pinged)."""
        self._each(self.targets.hosts, lambda host, client: client.ping())
        return [h for h in self.targets.hosts if h.name not in self.down]

    # -- Runtime --------------------------------------------------------------------------
    def list_fleets(self, scope: Scope) -> list[Fleet]:
        found = self._each(self.targets.hosts, lambda host, client: client.containers.list(
            all=True, filters={"label": scope.label_filter("service")}))
        containers, where = [], {}
        for name, listed in found.items():
            for c in listed:
                containers.append(c)
                where[c.id] = self.host(name)
        fleets = fleets_from_containers(containers, network="")
        for fleet in fleets:
            for mb in fleet.members:
                host = where[mb.container_id]
                c = next(c for c in containers if c.id == mb.container_id)
                mb.container_id = f"{host.name}/{mb.container_id}"
                mb.name = f"{host.name}/{mb.name}"
                mb.ip = self.address(host)
                mb.port = int((c.labels or {}).get(HOST_PORT_LABEL, "0"))
        return fleets

    def image_present(self, ref: str) -> bool:
        """The image is on this machine (it is shipped to the hosts when a fleet starts), and at
        least one host answers, so a fleet can be placed: this is the one check the service makes
        before any change, so a plan that cannot place fails here."""
        try:
            self.local.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise EngineError(f"the engine did not answer about {ref}: {exc}") from exc
        if not self.answering():
            raise RolloutError("cannot place any replica: no host answers:\n"
                               + "\n".join(f"  {name}: {why}" for name, why in sorted(self.down.items())))
        return True

    def ship(self, host: HostSpec, client: docker.DockerClient, spec: FleetSpec) -> None:
        """Through the registry when one is configured, else ``docker save`` here | ``docker
        load`` there (unless the host has the image already); then the host's image id must be
        the verified build's."""
        if self.targets.registry is not None:
            self.pull(host, spec)
            return
        tag = fingerprint_tag(spec.image_name, spec.fingerprint)
        try:
            have = client.images.get(tag).id
        except docker.errors.ImageNotFound:
            self.emit("info", {"text": f"shipping {spec.image_name} {spec.version} to {host.name} "
                                       "(docker save | docker load over SSH)"})
            if have_openssh():
                stream_load(host, self.state_dir, self.local.api.get_image(tag))
            else:  # the SDK's own transport: same trust, slower (paramiko ciphers in Python)
                self.shipper(host).images.load(self.local.api.get_image(tag))
            have = client.images.get(tag).id
        if have != spec.image_id:
            raise RolloutError(f"{host.name}: {tag} there is {have[:19]}, not the verified build "
                               f"{spec.image_id[:19]}; refusing that host")

    def registry_ref(self, spec: FleetSpec) -> str:
        """The verified image in the registry (pushed when it lacks it), as ``repo@sha256:...``;
        once per image for this command, however many hosts pull it."""
        assert self.targets.registry is not None
        with self._lock:
            if spec.image_id in self._pushed:
                return self._pushed[spec.image_id]
        ref = ensure_pushed(self.state_dir, self.targets.registry, spec.image_name, spec.fingerprint,
                            spec.image_id, self._local, on_push=lambda: self.emit("info", {
                                "text": f"pushing {spec.image_name} {spec.version} to the registry at "
                                        f"{self.targets.registry.address}"}))
        with self._lock:
            self._pushed[spec.image_id] = ref
        return ref

    def pull(self, host: HostSpec, spec: FleetSpec) -> None:
        """The host trusts the registry's CA, pulls by digest (never a tag), and must then hold
        exactly the verified image; otherwise it is refused before any member starts."""
        assert self.targets.registry is not None
        ref = self.registry_ref(spec)
        if host.name not in self._trusted:
            trust_on(host, self.state_dir, self.targets.registry)
            self._trusted.add(host.name)
        digest = ref.split("@", 1)[1]
        self.emit("info", {"text": f"{host.name} pulls {spec.image_name} {spec.version} "
                                   f"by digest {digest[:19]}"})
        client = self.shipper(host)
        try:
            have: str | None = client.images.pull(ref).id
        except docker.errors.ImageNotFound:
            have = None
        except docker.errors.APIError as exc:
            if exc.response is not None:  # the engine answered: the pull itself failed
                raise RolloutError(f"{host.name}: cannot pull {ref}: {exc.explanation or exc}") from exc
            raise
        check_pulled(host.name, ref, have, spec.image_id)

    def start_fleet(self, scope: Scope, spec: FleetSpec) -> Fleet:
        hosts = self.answering()
        placement = place(hosts, spec.replicas, self.targets.spread, frozenset(self.down))
        if self.down:
            self.emit("warn", {"text": "placing on the hosts that answer; left out: "
                                       + ", ".join(sorted(self.down))})
        used = [self.host(n) for n in sorted({h.name for h in placement.values()})]
        if self.targets.registry is not None:
            self.registry_ref(spec)  # here, so a registry that fails is not taken for a dead host
        shipped = self._each(used, lambda host, client: self.ship(host, client, spec))
        if missing := sorted({h.name for h in used} - set(shipped)):
            raise EngineError(f"cannot ship {spec.image_name} {spec.version} to {', '.join(missing)}: "
                              + "; ".join(self.down[n] for n in missing))
        mounts = self.put_secrets(scope, spec, used)
        env = secret_paths.container_env(spec.secret_delivery, spec.environment)
        claimed: dict[str, set[int]] = {}
        for slot, host in placement.items():
            client = self.client(host)
            if host.name not in claimed:
                claimed[host.name] = published_ports(client.containers.list(all=True))
            port = pick_port(claimed[host.name])
            claimed[host.name].add(port)
            lab = {**spec.labels(scope), SLOT_LABEL: str(slot), HOST_LABEL: host.name,
                   HOST_PORT_LABEL: str(port)}
            try:
                client.containers.run(
                    spec.image_id, name=scope.container_name(spec.colour, slot, spec.rollout_id),
                    detach=True, labels=lab, environment=env, volumes=mounts or None,
                    ports={f"{spec.port}/tcp": port}, restart_policy={"Name": "no"},
                    healthcheck=engine_healthcheck(spec))
            except docker.errors.APIError as exc:
                raise EngineError(f"{host.name}: cannot start {spec.colour} member {slot} of "
                                  f"{spec.image_name} {spec.version}: {exc.explanation or exc}") from exc
        self.emit("info", {"text": f"{spec.colour} placed: " + ", ".join(
            f"{slot}->{h.name}" for slot, h in placement.items())})
        return self.find_fleet(scope, spec.rollout_id)

    def put_secrets(self, scope: Scope, spec: FleetSpec, hosts: list[HostSpec]) -> list[str]:
        """The fleet's secret files on every host that gets members, over SSH, before any member
        is created there; how the members mount them. A host that cannot take them is refused."""
        if not secret_paths.delivers_files(spec.secret_delivery, spec.environment):
            return []
        directory = secret_paths.rollout_dir(secret_paths.HOST_ROOT, scope.slug, spec.rollout_id)
        done = self._each(hosts, lambda host, client: secret_files.write_on_host(
            host, self.state_dir, directory, spec.environment) or True)
        if missing := sorted({h.name for h in hosts} - set(done)):
            raise EngineError(f"cannot write the secret files on {', '.join(missing)}: "
                              + "; ".join(self.down[n] for n in missing))
        return secret_paths.binds(directory, tuple(spec.environment))

    def find_fleet(self, scope: Scope, rollout_id: str) -> Fleet:
        for fleet in self.list_fleets(scope):
            if fleet.rollout_id == rollout_id:
                return fleet
        raise RolloutError(f"no members found on the hosts for rollout {rollout_id}")

    def _container(self, member: Member) -> Any:
        name, _, cid = member.container_id.partition("/")
        return self.client(self.host(name)).containers.get(cid)

    def health_log(self, member: Member) -> str:
        try:
            c = self._container(member)
        except (docker.errors.NotFound, BakeryError) as exc:
            return f"{member.name}: {exc}"
        state = c.attrs.get("State", {})
        health = (state.get("Health") or {}).get("Status")
        lines = [f"{member.name}: status={state.get('Status')} health={health}"]
        for entry in ((state.get("Health") or {}).get("Log") or [])[-3:]:
            out = (entry.get("Output") or "").strip().replace("\n", " ")[:200]
            lines.append(f"  exit={entry.get('ExitCode')} {out}")
        return "\n".join(lines)

    def wait_healthy(self, scope: Scope, rollout_id: str, timeout: float, poll: float = 0.5) -> Fleet:
        deadline = time.monotonic() + timeout
        while True:
            fleet = self.find_fleet(scope, rollout_id)
            bad = [m for m in fleet.members if m.status != "running" or m.health == "unhealthy"]
            gone = sorted({m.name.split("/")[0] for m in fleet.members} & set(self.down))
            if bad or gone:
                raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) is not healthy:\n"
                                   + "\n".join([self.health_log(m) for m in bad]
                                               + [f"host {h} does not answer: {self.down[h]}" for h in gone]))
            if fleet.healthy:
                return fleet
            if time.monotonic() >= deadline:
                raise RolloutError(f"the {fleet.colour} fleet ({fleet.version}) did not become healthy "
                                   f"within {timeout:g}s:\n"
                                   + "\n".join(self.health_log(m) for m in fleet.members))
            time.sleep(poll)

    def _each_member(self, fleet: Fleet, action: Any) -> None:
        by_host: dict[str, list[str]] = {}
        for m in fleet.members:
            name, _, cid = m.container_id.partition("/")
            by_host.setdefault(name, []).append(cid)

        def on_host(host: HostSpec, client: docker.DockerClient) -> None:
            for cid in by_host[host.name]:
                try:
                    action(client.containers.get(cid))
                except docker.errors.NotFound:
                    continue

        self._each([self.host(n) for n in by_host if n not in self.down], on_host)

    def start_stopped(self, scope: Scope, fleet: Fleet) -> None:
        self._each_member(fleet, lambda c: c.start() if c.status != "running" else None)

    def stop_fleet(self, fleet: Fleet) -> None:
        self._each_member(fleet, lambda c: c.stop(timeout=10))

    def _remove_secrets(self, fleet: Fleet) -> None:
        """On each host that had members: the fleet's secret files, once none of them is left."""
        hosts = sorted({m.container_id.partition("/")[0] for m in fleet.members} - set(self.down))
        if not fleet.rollout_id or not hosts:
            return

        mine = {"label": f"{labels.ROLLOUT_ID}={fleet.rollout_id}"}

        def on_host(host: HostSpec, client: docker.DockerClient) -> None:
            if client.containers.list(all=True, filters=mine):
                return
            try:
                secret_files.remove_on_host(host, self.state_dir, fleet.rollout_id)
            except EngineError as exc:  # the members are gone; a file left is reported, not fatal
                self.emit("warn", {"text": f"secret files of {fleet.colour} not removed: {exc}"})

        self._each([self.host(n) for n in hosts], on_host)

    def remove_fleet(self, fleet: Fleet) -> None:
        """Removed from every host that answers; members on a host that is down are reported
        (they go when the host comes back and the next rollout tidies up)."""
        self._each_member(fleet, lambda c: c.remove(force=True))
        self._remove_secrets(fleet)
        left = sorted({m.name.split("/")[0] for m in fleet.members} & set(self.down))
        if left:
            self.emit("warn", {"text": f"{fleet.colour} members on {', '.join(left)} could not be removed: "
                                       "the host does not answer"})
