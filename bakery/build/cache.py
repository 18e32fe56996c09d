"""The shared package cache for builds: apt-cacher-ng (images/aptcache) in one container per engine.

Builds and patch rebuilds hand its address to apt as a BUILD-TIME proxy only: the docker
builder runs the build's steps in the cache container's network namespace and passes
``HTTP_PROXY`` (the cache on loopback) as a build argument (one of the engine's predefined
proxy arguments, which it leaves out of the image's history and config), and the package step
alone gives it to apt; the packer builder passes the cache's bridge address as an environment
variable of the package step's shell. Neither is an input of the
fingerprint, so an image is the same image whether or not the cache served it.

The cache is never required: when it is off (``BAKERY_APT_CACHE=off``), cannot be built or
started, or stops answering, ``endpoint`` returns None with the reason and the build fetches
from the mirror directly, saying so. It runs on the engine's default bridge, the network the
classic builder's RUN steps (and Packer's build container) use, and it is reused by every
project on the engine while it runs; its files live in a named volume that ``prune`` drops.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import docker.errors
import requests.exceptions

from bakery.definitions.image import ImageDefinition
from bakery.engine import labels
from bakery.engine.client import engine
from bakery.errors import BakeryError
from bakery.model.events import Sink
from bakery.project import Project

IMAGE_NAME = "aptcache"
CONTAINER = "bakery-aptcache"
VOLUME = "bakery-aptcache"
CACHE_DIR = "/var/cache/apt-cacher-ng"
PORT = 3142
ROLE = "aptcache"
MODE_ENV = "BAKERY_APT_CACHE"
START_TIMEOUT = 20.0

_lock = threading.Lock()  # parallel builds (build --all -j) start one cache, not several


@dataclass(frozen=True)
class Endpoint:
    container: str
    ip: str

    @property
    def url(self) -> str:
        return proxy_url(self.ip)


@dataclass(frozen=True)
class CacheStatus:
    running: bool
    url: str | None
    image: str | None
    state: str
    size_bytes: int | None
    files: int | None

    def as_json(self) -> dict[str, object]:
        return {"running": self.running, "url": self.url, "image": self.image, "state": self.state,
                "size_bytes": self.size_bytes, "files": self.files}


def enabled() -> bool:
    """Whether builds should use the cache at all. Pure apart from reading the environment."""
    return os.environ.get(MODE_ENV, "auto").strip().lower() not in ("off", "0", "no", "false")


def proxy_url(ip: str) -> str:
    return f"http://{ip}:{PORT}"


LOOPBACK_URL = proxy_url("127.0.0.1")


def engine_build_options(through_cache: bool) -> dict[str, object]:
    """The docker builder's options for a build whose apt goes through the running cache
    (False: the mirror directly, and no options: the engine's default bridge). The cache's
    bridge address is not needed: inside its namespace it is on loopback.

    The build's RUN steps join the cache container's network namespace (``network_mode``),
    where the cache answers on loopback: joining a namespace that exists spares each step the
    bridge sandbox the engine would make for it (about 0.15 s a step here; 1.1 s of the example
    web build, bench/RESULTS.md). The steps still reach the mirror and anything else the
    default bridge reaches; builds running at once share that one namespace.

    ``HTTP_PROXY`` is the predefined build argument, which the engine keeps out of history,
    env and labels. Upper case: apt reads only ``http_proxy``, which the package step alone
    sets from it (dockerfile.package_step), so a definition's own run steps never go through
    the cache. Pure."""
    if not through_cache:
        return {}
    return {"network_mode": f"container:{CONTAINER}", "buildargs": {"HTTP_PROXY": LOOPBACK_URL}}


def _answers(ip: str, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((ip, PORT), timeout=timeout):
            return True
    except OSError:
        return False


def _container():
    try:
        return engine().containers.get(CONTAINER)
    except docker.errors.NotFound:
        return None


def _ip(container) -> str:
    return (container.attrs.get("NetworkSettings") or {}).get("IPAddress") or ""


def find() -> Endpoint | None:
    """The running cache, when it answers; None otherwise."""
    container = _container()
    if container is None or container.status != "running":
        return None
    ip = _ip(container)
    return Endpoint(container.name, ip) if ip and _answers(ip) else None


def start(image_id: str) -> Endpoint:
    """Run the cache from ``image_id`` (a stopped one of ours is replaced) and wait until it
    answers. Raises BakeryError when it does not."""
    client = engine()
    old = _container()
    if old is not None:
        if (old.labels or {}).get(labels.ROLE) != ROLE:
            raise BakeryError(f"a container named {CONTAINER} exists that bakery did not start")
        old.remove(force=True)
    try:
        container = client.containers.run(
            image_id, name=CONTAINER, detach=True, labels={labels.ROLE: ROLE},
            volumes={VOLUME: {"bind": CACHE_DIR, "mode": "rw"}},
            restart_policy={"Name": "unless-stopped"})
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # another build started it a moment ago: use that one
            return _wait(START_TIMEOUT)
        raise BakeryError(f"the package cache did not start: {exc.explanation or exc}") from exc
    return _wait(START_TIMEOUT, container.id)


def _wait(timeout: float, container_id: str | None = None) -> Endpoint:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        container = _container()
        if container is not None and container.status in ("exited", "dead"):
            tail = container.logs(tail=5).decode("utf-8", "replace").strip()
            raise BakeryError(f"the package cache exited: {tail or 'no output'}")
        time.sleep(0.2)
    raise BakeryError(f"the package cache did not answer on port {PORT} within {timeout:.0f}s")


def newer_image(project: Project, running: Endpoint,
                find_built: Callable[[ImageDefinition], str | None]) -> str | None:
    """The project's aptcache image when it is built and is not what the cache runs (its
    definition changed): the cache is then started again from it. None: keep the running one."""
    if not (project.images_dir / IMAGE_NAME / "image.yaml").is_file():
        return None
    built = find_built(project.load_image(IMAGE_NAME))
    container = _container()
    current = container.image.id if container is not None else None
    return built if built is not None and built != current else None


def cache_image(project: Project, build_image: Callable[[ImageDefinition], str]) -> str:
    """The image to run: the project's images/aptcache as built now (``build_image`` builds it,
    a no-op when built), else the newest aptcache image bakery built on this engine."""
    if (project.images_dir / IMAGE_NAME / "image.yaml").is_file():
        return build_image(project.load_image(IMAGE_NAME))
    found = engine().images.list(filters={"label": f"{labels.IMAGE_NAME}={IMAGE_NAME}"})
    if not found:
        raise BakeryError(f"this project has no images/{IMAGE_NAME} and the engine no "
                          f"{IMAGE_NAME} image bakery built")
    return max(found, key=lambda image: image.attrs.get("Created", "")).id


def endpoint(project: Project, build_image: Callable[[ImageDefinition], str], emit: Sink,
             find_built: Callable[[ImageDefinition], str | None] = lambda defn: None) -> str | None:
    """The proxy URL a build's apt should use, or None (and why, as an "info" event) when the
    build goes to the mirror directly. Never raises: the cache is an optimisation.

    ``find_built`` finds the project's aptcache image without building it: when that is built
    and the running cache is another image, the cache restarts from it."""
    if not enabled():
        emit("info", {"text": f"package cache off ({MODE_ENV}=off): apt goes to the mirror directly"})
        return None
    try:
        with _lock:
            found = find()
            if found is not None and (newer := newer_image(project, found, find_built)):
                emit("step", {"text": "restarting the package cache from its new image"})
                found = start(newer)
            if found is None:
                emit("step", {"text": "starting the package cache"})
                found = start(cache_image(project, build_image))
    except (BakeryError, docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        emit("info", {"text": f"package cache unavailable ({reason}): apt goes to the mirror directly"})
        return None
    emit("info", {"text": f"apt through the package cache at {found.url}"})
    return found.url


def status() -> CacheStatus:
    """What `bakery cache status` shows: the container, its address, and the cache's size."""
    container = _container()
    if container is None:
        return CacheStatus(False, None, None, "not started", None, None)
    image = (container.attrs.get("Config") or {}).get("Image")
    if container.status != "running":
        return CacheStatus(False, None, image, container.status, None, None)
    ip = _ip(container)
    answers = bool(ip) and _answers(ip)
    size = files = None
    result = container.exec_run(["/bin/sh", "-c", f"du -sb {CACHE_DIR} | cut -f1; "
                                 f"find {CACHE_DIR} -type f -name '*.deb' | wc -l"])
    if result.exit_code == 0:
        lines = result.output.decode().split()
        if len(lines) == 2 and all(x.isdigit() for x in lines):
            size, files = int(lines[0]), int(lines[1])
    return CacheStatus(answers, proxy_url(ip) if answers else None, image,
                       "running" if answers else "running, not answering", size, files)


def prune() -> list[str]:
    """Stop and remove the cache container and drop its volume (the next build starts a fresh,
    empty cache). Returns what was removed."""
    removed = []
    container = _container()
    if container is not None:
        if (container.labels or {}).get(labels.ROLE) != ROLE:
            raise BakeryError(f"the container named {CONTAINER} was not started by bakery; left alone")
        container.remove(force=True)
        removed.append(f"container {CONTAINER}")
    try:
        engine().volumes.get(VOLUME).remove()
        removed.append(f"volume {VOLUME}")
    except docker.errors.NotFound:
        pass
    return removed
