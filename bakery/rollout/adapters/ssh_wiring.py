"""Wiring for hosts over SSH: the load balancer that joins the hosts' network, the canary probe
that notices a dead host, per-host health for status, and the parts ``service.ports_for`` uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx

from bakery.balancer.haproxy import HAProxy
from bakery.definitions.rollout import RolloutDefinition
from bakery.definitions.targets import Targets
from bakery.engine.scope import Scope
from bakery.errors import BalancerError
from bakery.rollout.adapters.ssh import SshRuntime
from bakery.rollout.canary import http_probe
from bakery.rollout.ports import Sink, quiet


class HostsHAProxy(HAProxy):
    """HAProxy on this machine that also joins ``network``: the Docker network the hosts sit on,
    when they are containers here (the tests' Docker-in-Docker hosts). Docker isolates bridge
    networks from each other, so the LB on its own bridge could not reach them otherwise; real
    servers are reached through the machine's routes and need no network."""

    def __init__(self, scope: Scope, defn: RolloutDefinition, network: str,
                 client: docker.DockerClient | None = None):
        super().__init__(scope, defn, client)
        self.network = network

    def ensure(self, image_id: str, serving: bool = False, on_event=None) -> None:  # noqa: ANN001
        super().ensure(image_id, serving, on_event)
        self.join()

    def join(self) -> None:
        c = self.container()
        if c is None:
            return
        if (c.attrs.get("HostConfig") or {}).get("NetworkMode") == "host":
            return  # on the host's network it reaches the hosts' bridge addresses as the host does
        if self.network in ((c.attrs.get("NetworkSettings") or {}).get("Networks") or {}):
            return
        try:
            self.client.networks.get(self.network).connect(c)
        except docker.errors.APIError as exc:
            raise BalancerError(f"the load balancer cannot join the hosts' network {self.network}: "
                                f"{exc.explanation or exc}") from exc


class HostAwareProbe:
    """The canary's probe, plus: when a member does not answer, is its host still there? A
    host that does not answer stops the run (RolloutError: the driver aborts and unwinds).

    The verdict alone would not: it counts the balancer's requests with the probes, and HAProxy
    routes around a dead host, so under real traffic the probes' errors fall below the limit and
    a canary with members gone would be promoted."""

    def __init__(self, runtime: SshRuntime):
        self.runtime = runtime
        self._client: httpx.Client | None = None

    def __call__(self, host: str, port: int, timeout: float) -> tuple[bool, float]:
        if self._client is None:
            self._client = httpx.Client()
        ok, ms = http_probe(self._client)(host, port, timeout)
        if not ok:
            self.runtime.check_host_at(host)
        return ok, ms


def ssh_ports_parts(targets: Targets, state_dir: Path,
                    emit: Sink = quiet) -> tuple[SshRuntime, Any, HostAwareProbe]:
    """(runtime, balancer factory, canary probe) for a definition with ``targets:``; see
    service.ports_for."""
    runtime = SshRuntime(targets, state_dir, emit)
    probe = HostAwareProbe(runtime)
    if targets.network:
        network = targets.network
        return runtime, lambda scope, defn: HostsHAProxy(scope, defn, network), probe
    return runtime, HAProxy, probe


def host_health(runtime: object) -> list[dict[str, str]]:
    """Per host of an SSH runtime: up or down (and why), for `bakery status`; [] for any other
    runtime. A hook for service.status: ``"hosts": host_health(ctx.runtime)``."""
    if not isinstance(runtime, SshRuntime):
        return []
    up = {h.name for h in runtime.answering()}
    return [{"host": h.name, "address": h.address, "state": "up" if h.name in up else "down",
             "why": runtime.down.get(h.name, "")} for h in runtime.targets.hosts]
