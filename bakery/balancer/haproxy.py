"""The HAProxy load balancer of one environment+service: container, network, runtime API.

The LB container runs the image baked from ``images/lb`` with the generated config in a
bind-mounted folder (``.bakery/lb/<env>-<service>/``) that also holds the admin socket,
so this process talks to HAProxy over a unix socket without exec-ing into anything.

It runs on the host's network, its frontend bound to exactly ``listen:`` (see config.py), and
reaches the members at their bridge addresses, as the host does; the members' bridge network
(``scope.network``) is still made here. No engine healthcheck: bakery asks the admin socket.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import docker
import docker.errors
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from bakery.balancer import commands as cmd
from bakery.balancer.config import FRONTEND_PORT, MOUNT, SOCKET_NAME, check_options, render, slots_for
from bakery.definitions.rollout import RolloutDefinition
from bakery.engine.client import engine
from bakery.engine.scope import CONFIG_LABEL, Scope
from bakery.errors import BalancerError
from bakery.model.events import Sink, quiet
from bakery.model.traffic import BalancerState

LISTEN_LABEL = "io.bakery.listen"  # on the LB container: the address its frontend binds
HOST_NETWORK = "host"


SLOTS_LABEL = "io.bakery.lb.slots"  # on the LB container: the slots per colour it started with


def config_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def created_slots(container_labels: dict[str, str]) -> int | None:
    """The slots per colour an LB container started with (None: an LB from before the label)."""
    try:
        return int(container_labels[SLOTS_LABEL])
    except (KeyError, ValueError):
        return None


class _Exited(Exception):
    """The LB container ended while bakery waited for its socket (carries its last log lines)."""


class HAProxy:
    """Runtime-API client plus the lifecycle of the LB container (created on demand)."""

    def __init__(self, scope: Scope, defn: RolloutDefinition, client: docker.DockerClient | None = None):
        self.scope = scope
        self.defn = defn
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        return self._client if self._client is not None else engine()

    # -- the admin socket ---------------------------------------------------------------
    @property
    def socket_path(self) -> Path:
        return self.scope.lb_dir / SOCKET_NAME

    def send(self, command: str, timeout: float = 5.0) -> str:
        """One command over the admin socket; the answer text. Errors become BalancerError."""
        path = str(self.socket_path)
        dirfd = None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            if len(path) > 100:  # sun_path is ~108 bytes; reach long paths through /proc
                dirfd = os.open(self.scope.lb_dir, os.O_RDONLY)
                path = f"/proc/self/fd/{dirfd}/{SOCKET_NAME}"
            sock.connect(path)
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except OSError as exc:
            raise BalancerError(f"cannot reach HAProxy's admin socket {self.socket_path}: {exc}; "
                                f"is the load balancer container {self.scope.lb_container} "
                                "running?") from exc
        finally:
            sock.close()
            if dirfd is not None:
                os.close(dirfd)
        answer = b"".join(chunks).decode("utf-8", "replace")
        cmd.check_answer(command, answer)
        return answer

    def run(self, commands: list[str]) -> None:
        for command in commands:
            self.send(command)

    def stats(self) -> dict[str, cmd.ServerStat]:
        return cmd.parse_stat(self.send(cmd.show_stat()))

    def servers_state(self) -> dict[str, cmd.ServerState]:
        return cmd.parse_servers_state(self.send(cmd.show_servers_state()))

    def answers(self) -> bool:
        try:
            self.send("show info", timeout=2.0)
        except BalancerError:
            return False
        return True

    # -- lifecycle ------------------------------------------------------------------------
    def config_text(self) -> str:
        return render(self.defn)

    def config_hash(self) -> str:
        return config_hash(self.config_text())

    def container(self):  # noqa: ANN201 - docker Container or None
        try:
            return self.client.containers.get(self.scope.lb_container)
        except docker.errors.NotFound:
            return None

    def state(self) -> BalancerState:
        c = self.container()
        if c is None:
            return BalancerState(present=False, running=False)
        return BalancerState(present=True, running=c.status == "running", image_id=c.image.id)

    def published(self, container=None) -> tuple[str, int] | None:  # noqa: ANN001 - docker Container
        """Where the LB container's frontend listens, (host, port): the address it binds on the
        host's network, or (an LB of old, on its bridge) where the engine publishes it."""
        c = container if container is not None else self.container()
        if c is None:
            return None
        if listen := (c.labels or {}).get(LISTEN_LABEL):
            host, port = listen.rsplit(":", 1)
            return host.strip("[]"), int(port)
        bindings = ((c.attrs.get("HostConfig") or {}).get("PortBindings") or {}).get(f"{FRONTEND_PORT}/tcp")
        if not bindings:
            return None
        return bindings[0].get("HostIp") or "0.0.0.0", int(bindings[0].get("HostPort") or 0)

    def ensure_network(self) -> str:
        client = self.client
        try:
            client.networks.get(self.scope.network)
        except docker.errors.NotFound:
            try:
                client.networks.create(self.scope.network, driver="bridge",
                                       labels=self.scope.labels("network"))
            except docker.errors.APIError as exc:
                raise BalancerError(f"cannot create network {self.scope.network}: {exc}") from exc
        return self.scope.network

    def ensure(self, image_id: str, serving: bool = False, on_event: Sink | None = None) -> None:
        """Network, config and a running LB that answers on its socket. A no-op when all is there.

        ``serving``: some fleet holds weight. A changed config is then NOT applied (that
        would need a reload or a restart of a serving LB); the caller is told instead.
        """
        emit = on_event or quiet
        self.ensure_network()
        self.scope.lb_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.scope.lb_dir, 0o700)
        cfg_path = self.scope.lb_dir / "haproxy.cfg"
        wanted = self.config_hash()
        current = self.container()
        if current is not None:
            # An LB of old has `listen:` outside haproxy.cfg (the engine publishes its frontend), so
            # compare what it really listens on as well as the config.
            published = self.published(current)
            same_listen = published is None or published == (self.defn.listen_host, self.defn.listen_port)
            # The config it was started with, at the slot count it was started with: a config
            # that differs only in slots needs no restart (grow_slots adds the missing ones).
            started_slots = created_slots(current.labels or {}) or slots_for(self.defn)
            same = ((current.labels or {}).get(CONFIG_LABEL) == config_hash(render(self.defn, started_slots))
                    and same_listen)
            if current.status == "running" and same and self.answers():
                self.grow_slots(emit)
                return
            if current.status == "running" and not same and serving:
                change = ("the load balancer config changed" if same_listen else
                          f"listen changed to {self.defn.listen}, but the load balancer still listens on "
                          f"{published[0]}:{published[1]}")
                emit("warn", {"text": f"{change}; the change is applied once the service is not live "
                              "(bakery never restarts a serving load balancer)"})
                if self.answers():
                    return
            if current.status != "running" and same:
                current.start()
                self._wait_socket()
                self.grow_slots(emit)  # slots added at run time went with the old process
                return
            current.remove(force=True)
        cfg_path.write_text(self.config_text())
        emit("info", {"text": f"starting load balancer {self.scope.lb_container} on {self.defn.listen}"})
        try:
            self.client.containers.run(
                image_id, name=self.scope.lb_container, detach=True, network_mode=HOST_NETWORK,
                volumes={str(self.scope.lb_dir.resolve()): {"bind": MOUNT, "mode": "rw"}},
                command=["haproxy", "-W", "-db", "-f", f"{MOUNT}/haproxy.cfg"],
                healthcheck={"test": ["NONE"]},  # the image's check would exec every second
                labels={**self.scope.labels("lb"), CONFIG_LABEL: wanted, LISTEN_LABEL: self.defn.listen,
                        SLOTS_LABEL: str(slots_for(self.defn))},
            )
        except docker.errors.APIError as exc:
            reason = exc.explanation or str(exc)
            hint = ""
            if "address already in use" in reason or "port is already allocated" in reason:
                hint = (f"; {self.defn.listen} is taken: change `listen:` in "
                        f"{self.defn.path.name} or free the port")
            leftover = self.container()
            if leftover is not None:
                leftover.remove(force=True)
            raise BalancerError(f"cannot start the load balancer: {reason}{hint}") from exc
        self._wait_socket()

    def grow_slots(self, on_event: Sink | None = None) -> int:
        """Add the slots the definition needs and the running HAProxy lacks (``add server``, then
        its checks on): ``replicas`` can grow past the slots the balancer started with while it
        serves, with no restart. Slots are never removed (an unused one is disabled, weight 0).
        Returns how many servers were added."""
        missing = cmd.missing_slots(set(self.servers_state()), slots_for(self.defn))
        if not missing:
            return 0
        (on_event or quiet)("info", {"text": f"adding {len(missing)} server slot(s) to the running "
                                     f"load balancer ({slots_for(self.defn)} per colour)"})
        options = check_options(self.defn)
        self.run([command for colour, index in missing
                  for command in (cmd.add_server(colour, index, self.defn.port, options),
                                  cmd.enable_health(colour, index))])
        return len(missing)

    def _wait_socket(self) -> None:
        """Until the admin socket answers; at once, with HAProxy's words, when the LB exited (a
        `listen:` address taken on the host: HAProxy cannot bind it)."""
        try:
            for attempt in Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.2),
                                    retry=retry_if_exception_type(BalancerError), reraise=True):
                with attempt:
                    try:
                        self.send("show info", timeout=2.0)
                    except BalancerError:
                        c = self.container()
                        if c is not None and c.status in ("exited", "dead"):
                            raise _Exited(c.logs(tail=15).decode("utf-8", "replace")) from None
                        raise
        except _Exited as exited:
            logs = str(exited)
            hint = ""
            if "cannot bind socket" in logs or "Address already in use" in logs:
                hint = (f"; {self.defn.listen} is taken: change `listen:` in "
                        f"{self.defn.path.name} or free the port")
            if (c := self.container()) is not None:
                c.remove(force=True)
            raise BalancerError(f"the load balancer stopped at once{hint}:\n{logs}") from None
        except BalancerError as exc:
            logs = ""
            if (c := self.container()) is not None:
                logs = c.logs(tail=15).decode("utf-8", "replace")
            raise BalancerError(f"the load balancer did not come up: {exc}\n{logs}") from exc

    def remove(self) -> None:
        """Remove the LB container and the network (used by `bakery down` style cleanup and tests)."""
        if (c := self.container()) is not None:
            c.remove(force=True)
        try:
            self.client.networks.get(self.scope.network).remove()
        except docker.errors.NotFound:
            pass
