"""Measure the two engine limits bakery's lint enforces (bakery/definitions/limits.py).

Sends build requests that fail right after the engine has parsed them (FROM scratch, then a
RUN that cannot run), so nothing is built, pulled or tagged, and prints where the engine
starts to refuse: the longest Dockerfile line it reads, and the largest labels it accepts in
the request. Run: .venv/bin/python bench/probe_engine_limits.py
"""

from __future__ import annotations

import io
import tarfile

import docker

from bakery.definitions import limits


def context(dockerfile: str) -> io.BytesIO:
    data = dockerfile.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def attempt(client: docker.DockerClient, dockerfile: str, labels: dict[str, str] | None = None) -> str:
    """"parsed" when the engine read the request and the Dockerfile, else its HTTP status."""
    try:
        for _ in client.api.build(fileobj=context(dockerfile), custom_context=True, decode=True,
                                  labels=labels, rm=True, forcerm=True, pull=False):
            pass
    except docker.errors.APIError as exc:
        return f"HTTP {exc.response.status_code}: {exc.explanation or ''}"[:90]
    return "parsed"


def line(length: int) -> str:
    return "FROM scratch\nRUN true " + "a" * (length - len("RUN true ")) + "\n"


def main() -> None:
    client = docker.from_env()
    version = client.version()
    print(f"engine {version['Version']} (API {version['ApiVersion']})")
    for length in (limits.DOCKERFILE_LINE_MAX - 1, limits.DOCKERFILE_LINE_MAX,
                   limits.DOCKERFILE_LINE_MAX + 1):
        print(f"dockerfile line of {length:>9,} characters: {attempt(client, line(length))}")
    for size in (limits.BUILD_REQUEST_MAX - 16 * 1024, limits.BUILD_REQUEST_MAX,
                 limits.BUILD_REQUEST_MAX + 8 * 1024):
        result = attempt(client, "FROM scratch\nRUN true\n", {"d": "a" * size})
        print(f"labels of {size:>9,} bytes in the request URL: {result}")


if __name__ == "__main__":
    main()
