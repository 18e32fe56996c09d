"""One lock per key, for work that parallel threads of one command must not do twice at once
(bootstrapping one base, building one fingerprint): the second waits, then finds it done."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class KeyedLock:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def lock(self, key: str) -> threading.Lock:
        """The one lock for ``key``, for a holder that releases it part-way through its work."""
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self.lock(key):
            yield
