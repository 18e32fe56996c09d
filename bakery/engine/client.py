"""One place to get a Docker client, with an error that says what to do."""

from __future__ import annotations

import functools

import docker
import docker.errors

from bakery.errors import EngineError

HINT = "start one with scripts/setup.sh (installs docker.io and starts dockerd when needed)"


@functools.lru_cache(maxsize=1)
def engine() -> docker.DockerClient:
    """A connected client; raises EngineError when no engine answers."""
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineError(f"no Docker engine answers ({exc}); {HINT}") from None
    return client


def engine_available() -> bool:
    try:
        engine()
    except EngineError:
        return False
    return True
