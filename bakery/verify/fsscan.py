"""The one scan of a container's filesystem for baked-in keys, credentials and secret values:
the scanned folders as tar streams from the engine (no tool in the image needed), read by
``secretscan``.

The parent (bakery's own process, idle while the checks run) scans in a thread from the
health verdict on and hands the result to the pytest child as a JSON file: reading tar
streams is CPU in Python, and in the child it would take the GIL from the checks."""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors

from bakery.verify import secretscan


class _Reader:
    """A file-like view of the engine's chunk iterator, for tarfile's streaming mode."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def scan(container_id: str, secret_values: dict[str, str],
         dests: list[str]) -> tuple[list[str], list[secretscan.Finding]]:
    """(folders scanned, findings). Its own engine connection: it runs beside the checks'."""
    client = docker.from_env(timeout=300)
    try:
        container = client.containers.get(container_id)
        names = {value: name for name, value in secret_values.items()}
        findings: list[secretscan.Finding] = []
        scanned = []
        for folder in secretscan.scan_dirs(dests):
            try:
                stream, _ = container.get_archive(folder)
            except docker.errors.NotFound:
                continue
            scanned.append(folder)
            # The archive names entries relative to the folder's parent ("www/html/...").
            findings.extend(secretscan.scan_tar(_Reader(stream), secret_values.values(), names,
                                                parent=posixpath.dirname(folder)))
        return scanned, findings
    finally:
        client.close()


def write_result(path: Path, container_id: str, secret_values: dict[str, str], dests: list[str]) -> None:
    """Scan and write ``{"scanned": [...], "findings": [...]}`` (or ``{"error": ...}``) to
    ``path`` in one rename, so the reader never sees half of it."""
    try:
        scanned, findings = scan(container_id, secret_values, dests)
        data: dict[str, object] = {"scanned": scanned, "findings": [
            {"kind": f.kind, "where": f.where, "detail": f.detail} for f in findings]}
    except Exception as exc:  # noqa: BLE001 - the check that reads it reports the error
        data = {"error": f"{type(exc).__name__}: {exc}"}
    staged = path.with_name(path.name + ".part")
    try:
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        staged.replace(path)
    except OSError:
        return  # the verification ended (interrupted) and took its folder: nobody will read it


def read_result(path: Path) -> tuple[list[str], list[secretscan.Finding]]:
    """What write_result wrote; raises RuntimeError with the scan's error."""
    data = json.loads(path.read_text())
    if "error" in data:
        raise RuntimeError(f"the filesystem scan failed: {data['error']}")
    return list(data["scanned"]), [secretscan.Finding(**f) for f in data["findings"]]
