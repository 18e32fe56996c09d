"""The registry container on this machine's engine: up (reused when it already runs as asked),
status, down. Its blobs live in a named volume, so `down` and a new `up` keep what was pushed.

TLS is turned on with the registry's environment overrides, and the certificate and key are
copied into the container before it starts (``put_archive``) rather than bind-mounted: the key
stays 0600 on this machine and needs no owner change for the registry's own user.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from bakery.engine import labels
from bakery.engine.client import engine
from bakery.errors import EngineError
from bakery.registry import tls
from bakery.registry.settings import RegistrySettings, state_key

ROLE = "registry"
CONFIG_LABEL = f"{labels.PREFIX}.registry.config"
PORT_LABEL = f"{labels.PREFIX}.registry.port"
NAMES_LABEL = f"{labels.PREFIX}.registry.names"
DATA = "/var/lib/docker-registry"
TLS_DIR = "/etc/docker/registry/tls"
HEALTH_TIMEOUT = 60.0


def container_name(state_dir: Path) -> str:
    return f"bakery-registry-{state_key(state_dir)}"


def volume_name(state_dir: Path) -> str:
    return f"bakery-registry-{state_key(state_dir)}"


@dataclass
class RegistryStatus:
    name: str
    state: str  # running | exited | absent ...
    health: str = ""
    port: int | None = None
    names: list[str] = field(default_factory=list)
    volume: str = ""
    ca: str = ""
    reused: bool = False

    @property
    def local(self) -> str:
        """Where this machine's engine pushes (loopback: docker trusts 127.0.0.0/8 registries)."""
        return f"127.0.0.1:{self.port}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "health": self.health, "port": self.port,
                "names": self.names, "volume": self.volume, "ca": self.ca, "reused": self.reused}


def config_id(settings: RegistrySettings, image_id: str, cert_id: str) -> str:
    """What the running container was made from: a change means a new container. Pure."""
    text = "|".join([str(settings.port), ",".join(settings.names), ",".join(settings.networks),
                     image_id, cert_id])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tls_tar(files: tls.TlsFiles) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for src, name in ((files.cert, "server.crt"), (files.key, "server.key")):
            data = src.read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o444  # read by the registry's user; only that container sees it
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _get(client: docker.DockerClient, name: str) -> Any | None:
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def _join(client: docker.DockerClient, c: Any, settings: RegistrySettings) -> None:
    """On each test-host network, with the registry's DNS names as aliases there."""
    c.reload()
    joined = (c.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    for net in settings.networks:
        if net in joined:
            continue
        try:
            client.networks.get(net).connect(c, aliases=list(settings.aliases))
        except docker.errors.APIError as exc:
            raise EngineError(f"the registry cannot join the hosts' network {net}: "
                              f"{exc.explanation or exc}") from exc


def _wait_healthy(c: Any, timeout: float = HEALTH_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        c.reload()
        state = c.attrs.get("State") or {}
        if state.get("Status") != "running":
            raise EngineError(f"the registry stopped: {c.logs(tail=15).decode(errors='replace')}")
        if (state.get("Health") or {}).get("Status") == "healthy":
            return
        if time.monotonic() > deadline:
            raise EngineError(f"the registry did not become healthy within {timeout:g}s: "
                              f"{c.logs(tail=15).decode(errors='replace')}")
        time.sleep(0.3)


def up(state_dir: Path, settings: RegistrySettings, image_id: str,
       client: docker.DockerClient | None = None) -> RegistryStatus:
    """Run the registry (or keep the one that runs as asked); the CA and a certificate covering
    ``settings.names`` are made first. A container made from other settings is replaced; the
    volume, and so every pushed image, is kept."""
    client = client or engine()
    files, _ = tls.ensure(state_dir, settings.names)
    wanted = config_id(settings, image_id, tls.cert_id(files.cert))
    name = container_name(state_dir)
    c = _get(client, name)
    reused = c is not None and (c.labels or {}).get(CONFIG_LABEL) == wanted
    if c is not None and not reused:
        c.remove(force=True)
        c = None
    if c is None:
        c = client.containers.create(
            image_id, name=name, detach=True,
            labels={labels.ROLE: ROLE, CONFIG_LABEL: wanted, PORT_LABEL: str(settings.port),
                    NAMES_LABEL: ",".join(settings.names)},
            environment={"REGISTRY_HTTP_ADDR": f":{settings.port}",
                         "REGISTRY_HTTP_TLS_CERTIFICATE": f"{TLS_DIR}/server.crt",
                         "REGISTRY_HTTP_TLS_KEY": f"{TLS_DIR}/server.key"},
            ports={f"{settings.port}/tcp": settings.port},
            volumes={volume_name(state_dir): {"bind": DATA, "mode": "rw"}},
            restart_policy={"Name": "unless-stopped"})
        c.put_archive(TLS_DIR, _tls_tar(files))
    c.reload()
    if c.status != "running":
        try:
            c.start()
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot start the registry on port {settings.port}: "
                              f"{exc.explanation or exc}") from exc
    _join(client, c, settings)
    _wait_healthy(c)
    out = status(state_dir, client)
    out.reused = reused
    return out


def status(state_dir: Path, client: docker.DockerClient | None = None) -> RegistryStatus:
    client = client or engine()
    name = container_name(state_dir)
    ca = str(tls.files(state_dir).ca_cert)
    c = _get(client, name)
    if c is None:
        return RegistryStatus(name, "absent", volume=volume_name(state_dir), ca=ca)
    lab = c.labels or {}
    state = c.attrs.get("State") or {}
    return RegistryStatus(name, state.get("Status", c.status), (state.get("Health") or {}).get("Status", ""),
                          int(lab[PORT_LABEL]) if lab.get(PORT_LABEL, "").isdigit() else None,
                          [n for n in lab.get(NAMES_LABEL, "").split(",") if n], volume_name(state_dir), ca)


def down(state_dir: Path, purge: bool = False, client: docker.DockerClient | None = None) -> bool:
    """Remove the container (and with ``purge`` its volume: every pushed image); whether one ran."""
    client = client or engine()
    c = _get(client, container_name(state_dir))
    if c is not None:
        c.remove(force=True)
    if purge:
        try:
            client.volumes.get(volume_name(state_dir)).remove(force=True)
        except docker.errors.NotFound:
            pass
    return c is not None


def running(state_dir: Path, client: docker.DockerClient | None = None) -> RegistryStatus:
    """The running registry; EngineError saying what to run when there is none."""
    st = status(state_dir, client)
    if st.state != "running" or st.port is None:
        raise EngineError(f"bakery's registry is not running ({st.state}); start it with "
                          "`bakery registry up`")
    return st
