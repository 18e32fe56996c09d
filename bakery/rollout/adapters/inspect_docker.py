"""Drift's ``Inspector`` over a docker SDK client: the local engine, or each SSH host's client.

Reading only (invariant 1): inspect, ``diff``, ``get_archive`` and ONE exec reading /proc, as
verify reads it. The image's copy of a changed file comes from a container created from the
image and never started, removed at once: nothing that serves is touched.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from typing import Any

import docker
import docker.errors

from bakery.drift import facts as f
from bakery.drift.ports import Inspector
from bakery.engine import labels
from bakery.engine.client import engine

MAX_COMPARED = 16 * 1024 * 1024  # a bigger changed file is named, its content not compared


def _digest(client_container: Any, path: str) -> str | None:
    """sha256 of one regular file read through the archive API; None when absent or not a file."""
    try:
        stream, _ = client_container.get_archive(path)
    except docker.errors.NotFound:
        return None
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next(iter(tar.getmembers()), None)
        if member is None or not member.isfile() or member.size > MAX_COMPARED:
            return None
        handle = tar.extractfile(member)
        return hashlib.sha256(handle.read()).hexdigest() if handle else None


class DockerInspector:
    """One engine's members and images."""

    def __init__(self, client: docker.DockerClient | None = None):
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        return self._client if self._client is not None else engine()

    def image(self, image_id: str) -> f.ImageFacts | None:
        try:
            return f.image_facts(self.client.images.get(image_id).attrs)
        except docker.errors.ImageNotFound:
            return None

    def member(self, container_id: str, compare: Callable[[f.MemberFacts], list[str]],
               image_id: str) -> f.MemberFacts:
        try:
            c = self.client.containers.get(container_id)
            seen = f.member_facts(c.attrs)
            seen.changes = tuple((d["Path"], d["Kind"]) for d in c.diff() or [])
            if seen.status == "running":
                seen.processes, seen.reader_pid = self._processes(c)
            paths = compare(seen)
            if paths:
                seen.content_differs = self._contents(c, paths, image_id)
            return seen
        except (docker.errors.APIError, OSError, tarfile.TarError, ValueError) as exc:
            return f.MemberFacts(name=container_id, status="unknown", error=f"cannot inspect: {exc}")

    def _processes(self, c: Any) -> tuple[tuple[f.Proc, ...] | None, int]:
        result = c.exec_run(["/bin/sh", "-c", f.PROCESS_SCRIPT], demux=False)
        if result.exit_code not in (0, None):
            raise ValueError(f"reading /proc failed (exit {result.exit_code}): "
                             f"{(result.output or b'').decode('utf-8', 'replace')[:200]}")
        return f.parse_processes((result.output or b"").decode("utf-8", "replace"))

    def _contents(self, c: Any, paths: list[str], image_id: str) -> dict[str, bool | None]:
        """For each path: whether the member's copy differs from the image's (None: unknown)."""
        pristine = self.client.containers.create(
            image_id, command=["true"], entrypoint=[], network_disabled=True,
            labels={labels.ROLE: "drift"})
        try:
            out: dict[str, bool | None] = {}
            for path in paths:
                mine, theirs = _digest(c, path), _digest(pristine, path)
                out[path] = None if mine is None or theirs is None else mine != theirs
            return out
        finally:
            pristine.remove(force=True)


class HostsInspector:
    """Members on SSH hosts (ids ``host/container``): each read through its host's own client,
    from the SSH runtime (``client(host(name))``)."""

    def __init__(self, runtime: Any):
        self.runtime = runtime

    def _on(self, host: str) -> DockerInspector:
        return DockerInspector(self.runtime.client(self.runtime.host(host)))

    def image(self, image_id: str) -> f.ImageFacts | None:
        return DockerInspector(self.runtime.local).image(image_id)

    def member(self, container_id: str, compare: Callable[[f.MemberFacts], list[str]],
               image_id: str) -> f.MemberFacts:
        host, _, cid = container_id.partition("/")
        try:
            inspector = self._on(host)
        except Exception as exc:  # noqa: BLE001 - a host that cannot be reached is "could not inspect"
            return f.MemberFacts(name=container_id, status="unknown", error=f"{host}: {exc}")
        return inspector.member(cid, compare, image_id)


def inspector_for(runtime: Any) -> Inspector:
    """The inspector for a ``Runtime``: its hosts' clients for the SSH runtime, else its engine."""
    if hasattr(runtime, "targets") and hasattr(runtime, "host"):
        return HostsInspector(runtime)
    return DockerInspector(getattr(runtime, "client", None))
