"""The one scan of a container's filesystem for baked-in keys, credentials and secret values:
the scanned folders as tar streams from the engine (no tool in the image needed), read by
``secretscan``. It runs in a thread of the pytest child, beside the other checks."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

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
