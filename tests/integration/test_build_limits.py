"""The engine's limits that lint enforces (bakery/definitions/limits.py) are the engine's.

Each request fails right after the engine parsed it (FROM scratch, then a RUN that cannot
run): nothing is pulled, built or tagged.
"""

from __future__ import annotations

import io
import tarfile

import docker.errors
import pytest

from bakery.definitions import limits

pytestmark = pytest.mark.docker


def build(engine, dockerfile: str, labels: dict[str, str] | None = None) -> str:
    data = dockerfile.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    try:
        for _ in engine.api.build(fileobj=buf, custom_context=True, decode=True, labels=labels,
                                  rm=True, forcerm=True, pull=False):
            pass
    except docker.errors.APIError as exc:
        return f"{exc.response.status_code} {exc.explanation}"
    return "parsed"


def run_line(length: int) -> str:
    return "FROM scratch\nRUN true " + "a" * (length - len("RUN true ")) + "\n"


def test_longest_dockerfile_line(docker_engine) -> None:
    assert build(docker_engine, run_line(limits.DOCKERFILE_LINE_MAX)) == "parsed"
    refused = build(docker_engine, run_line(limits.DOCKERFILE_LINE_MAX + 1))
    assert refused.startswith("400") and "max allowed size" in refused


def test_largest_build_request(docker_engine) -> None:
    assert build(docker_engine, "FROM scratch\nRUN true\n",
                 {"d": "a" * (limits.BUILD_REQUEST_MAX - limits.REQUEST_RESERVE)}) == "parsed"
    refused = build(docker_engine, "FROM scratch\nRUN true\n", {"d": "a" * (limits.BUILD_REQUEST_MAX + 8192)})
    assert refused.startswith("431")
