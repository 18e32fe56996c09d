"""The throwaway container a verification runs against: its own network, no published ports,
test values for declared secrets. Removed on success, failure, Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker.errors
import tenacity
from docker.models.containers import Container

from bakery.engine import labels
from bakery.engine.client import engine
from bakery.errors import EngineError
from bakery.model.events import Sink, quiet
from bakery.verify.reaper import OWNER_LABEL, ROLE, owner_token

RUN_LABEL = f"{labels.PREFIX}.verify.run"


@dataclass
class Health:
    """Where waiting ended: "healthy", "unhealthy", "running" (no healthcheck), "exited", "timeout"."""

    state: str
    detail: str = ""
    exit_code: int | None = None
    log_tail: str = ""


def wait_budget(hc: dict[str, Any] | None) -> float:
    """How long to wait for a verdict: the engine's own, worst case, plus slack. Pure."""
    if not hc:
        return 5.0
    interval = float(hc.get("interval") or 2.0)
    timeout = float(hc.get("timeout") or 3.0)
    retries = int(hc.get("retries") or 3)
    start = float(hc.get("start_period") or 0.0)
    return start + (interval + timeout) * (retries + 1) + 10.0


START_INTERVAL = 0.25  # seconds between health probes of the throwaway container


def start_paced_healthcheck(hc: dict[str, Any] | None) -> dict[str, int] | None:
    """The throwaway container's health check: the image's own test and timeout (inherited:
    no ``test`` here), probed every ``START_INTERVAL`` instead of every ``interval``, with the
    retries scaled so a failing service is declared unhealthy after the same time as the
    image's own pacing would. Docker 25's ``start_interval`` does this for the start period;
    Debian's engine (20.10) lacks it. None: nothing to change. Pure."""
    if not hc:
        return None
    interval = float(hc.get("interval") or 2.0)
    if interval <= START_INTERVAL:
        return None
    retries = int(hc.get("retries") or 3)
    return {"interval": int(START_INTERVAL * 1e9),
            "retries": math.ceil(retries * interval / START_INTERVAL)}


def verdict(attrs: dict[str, Any], has_healthcheck: bool) -> str | None:
    """The container's state as a final verdict, or None while it is still starting. Pure."""
    state = attrs.get("State") or {}
    if not state.get("Running", False) and state.get("Status") in ("exited", "dead"):
        return "exited"
    if not has_healthcheck:
        return "running" if state.get("Running") else None
    status = (state.get("Health") or {}).get("Status")
    return status if status in ("healthy", "unhealthy") else None


@contextlib.contextmanager
def _signal_handlers(sigs: tuple[signal.Signals, ...], handler: Any) -> Iterator[None]:
    """Install ``handler`` for ``sigs`` for the duration; only the main thread may do so."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def interrupts_raise() -> contextlib.AbstractContextManager[None]:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt (as Ctrl-C does) so finally blocks run."""
    return _signal_handlers((signal.SIGTERM, signal.SIGHUP), _raise_interrupt)


def shielded() -> contextlib.AbstractContextManager[None]:
    """Ignore Ctrl-C/SIGTERM while cleaning up, so a second Ctrl-C cannot leave a container."""
    return _signal_handlers((signal.SIGINT, signal.SIGTERM, signal.SIGHUP), signal.SIG_IGN)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C/SIGTERM back while creating things on the engine: a request cut off mid-way
    can leave a container the engine creates after we gave up looking for it. The held signal
    is delivered as soon as the object is known, so cleanup can find it."""
    sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Throwaway:
    """Network + container for one verification run. Use as a context manager."""

    def __init__(self, image_id: str, name: str, run_id: str, env: dict[str, str],
                 emit: Sink | None = None, healthcheck: dict[str, Any] | None = None):
        self.image_id = image_id
        self.healthcheck = start_paced_healthcheck(healthcheck)
        self.name = name
        self.run_id = run_id
        self.env = env
        self.emit = emit or quiet
        self.container_name = f"bakery-verify-{name}-{run_id}"
        self.network_name = f"bakery-verify-{run_id}"
        self.container: Container | None = None
        self.network: Any = None

    @property
    def labels(self) -> dict[str, str]:
        # OWNER_LABEL lets a later run reap this one's leftovers after a kill -9 (reaper.py).
        return {labels.ROLE: ROLE, RUN_LABEL: self.run_id, labels.IMAGE_NAME: self.name,
                OWNER_LABEL: owner_token()}

    def __enter__(self) -> Throwaway:
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def start(self) -> None:
        client = engine()
        try:
            with deferred():
                # internal: the container reaches nothing outside; the host still reaches it.
                self.network = client.networks.create(self.network_name, driver="bridge",
                                                      internal=True, labels=self.labels,
                                                      check_duplicate=True)
            with deferred():
                self.container = client.containers.create(
                    self.image_id, detach=True, name=self.container_name,
                    network=self.network_name, environment=self.env, labels=self.labels,
                    healthcheck=self.healthcheck)
            self.container.start()
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot start a throwaway container for {self.name}: "
                              f"{exc.explanation or exc}") from exc
        self.emit("info", {"text": f"started {self.container_name} on network {self.network_name}"})

    @property
    def ip(self) -> str:
        assert self.container is not None
        self.container.reload()
        networks = self.container.attrs["NetworkSettings"]["Networks"]
        return (networks.get(self.network_name) or {}).get("IPAddress", "")

    def wait(self, hc: dict[str, Any] | None) -> Health:
        """Wait until the engine has a verdict on the container's health (or it exits)."""
        assert self.container is not None
        container = self.container
        budget = wait_budget(hc)

        def poll() -> str | None:
            container.reload()
            return verdict(container.attrs, bool(hc))

        try:
            state = tenacity.Retrying(
                retry=tenacity.retry_if_result(lambda r: r is None),
                stop=tenacity.stop_after_delay(budget), wait=tenacity.wait_fixed(0.05),  # an inspect is cheap
            )(poll)
        except tenacity.RetryError:
            state = "timeout"
        attrs = container.attrs.get("State") or {}
        health_log = (attrs.get("Health") or {}).get("Log") or []
        detail = ""
        if health_log:
            last = health_log[-1]
            detail = f"last health probe exited {last.get('ExitCode')}: {last.get('Output', '').strip()}"
        if state == "timeout":
            detail = f"no verdict within {budget:.0f}s ({detail or 'still starting'})"
        tail = ""
        if state in ("exited", "unhealthy", "timeout"):
            tail = container.logs(tail=30).decode("utf-8", "replace")
        return Health(state, detail, attrs.get("ExitCode") if state == "exited" else None, tail)

    def remove(self) -> None:
        """Remove the container and the network; tolerant of either being gone already."""
        with shielded():
            client = engine()
            try:
                target = self.container or client.containers.get(self.container_name)
                target.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                self.emit("info", {"text": f"could not remove {self.container_name}: {exc}"})
            try:
                network = self.network or client.networks.get(self.network_name)
                network.remove()
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                self.emit("info", {"text": f"could not remove network {self.network_name}: {exc}"})
            self.container = None
            self.network = None


def leftovers() -> list[str]:
    """Names of verification containers still present (any run); for tests and diagnostics."""
    found = engine().api.containers(all=True, filters={"label": f"{labels.ROLE}={ROLE}"})
    return [c["Names"][0].lstrip("/") for c in found]
