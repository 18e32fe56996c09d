"""Build several images at once on a thread pool.

Images depend only on their bases, never on each other, so any order is right. One
failing image does not stop the others; each result carries its outcome or its error.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker.errors
import requests.exceptions

from bakery.build.builders import BuilderFn
from bakery.build.docker_builder import BuildOutcome
from bakery.definitions.image import ImageDefinition
from bakery.errors import BakeryError, EngineError
from bakery.model.events import Sink, quiet
from bakery.project import Project

# on_event(kind, {"image": name, "text": ...}): kind is "start", "step", "log", "info", "done" or
# "failed"; the one event shape (model/events.py), with the image each event is about.
ImageEventSink = Sink


@dataclass
class BuildResult:
    name: str
    version: str
    outcome: BuildOutcome | None = None
    error: BakeryError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class BuildInterrupted(BakeryError):
    """Ctrl-C reached the main thread while this image was building on a worker thread."""

    exit_code = 130


def build_one(project: Project, defn: ImageDefinition, builder: BuilderFn,
              on_event: ImageEventSink, nocache: bool = False,
              cancel: threading.Event | None = None) -> BuildResult:
    def emit(kind: str, data: dict[str, Any]) -> None:
        # A builder reports every step, and once more before it tags: raising here stops a
        # cancelled build at its next event, before any tag or record is made.
        if cancel is not None and cancel.is_set():
            raise BuildInterrupted(f"{defn.name}: interrupted")
        on_event(kind, {"image": defn.name, **data})

    def failed(text: str) -> None:
        on_event("failed", {"image": defn.name, "text": text})

    emit("start", {"text": ""})
    try:
        outcome = builder(project, defn, on_event=emit, nocache=nocache)
    except BakeryError as exc:
        failed(str(exc).splitlines()[0])
        return BuildResult(defn.name, defn.version, error=exc)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        err = EngineError(f"{defn.name}: the Docker engine failed during the build: {exc}")
        failed(str(err))
        return BuildResult(defn.name, defn.version, error=err)
    emit("done", {"text": "up to date" if outcome.up_to_date else f"built in {outcome.seconds:.1f}s"})
    return BuildResult(defn.name, defn.version, outcome=outcome)


MAX_DEFAULT_JOBS = 4


def default_jobs(cpus: int | None = None) -> int:
    """Images built at once unless told: one per core, at most 4. A build alternates between
    waiting (packages, layer commits) and CPU (dpkg), so two builds on two cores overlap well
    (four images: 22.6 s with -j2 against 33.3 s one at a time, bench/RESULTS.md); more than
    the cores only adds contention. Pure."""
    return max(1, min(MAX_DEFAULT_JOBS, cpus if cpus is not None else os.cpu_count() or 1))


def start_order(defns: list[ImageDefinition]) -> list[int]:
    """The indices of ``defns`` in the order to start them: the first image of each package set
    (same base, same packages) before any twin of it, so that twins seldom start together and a
    twin started later reuses the first one's package layer (docker_builder.PackageLayerGate
    makes one that does start together wait). Otherwise the given order. Pure."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    first: list[int] = []
    twins: list[int] = []
    for index, defn in enumerate(defns):
        key = (defn.base, defn.packages)
        (twins if defn.packages and key in seen else first).append(index)
        seen.add(key)
    return first + twins


def build_many(project: Project, defns: list[ImageDefinition], builder: BuilderFn, jobs: int = 1,
               on_event: ImageEventSink | None = None, nocache: bool = False) -> list[BuildResult]:
    """Results in the order of ``defns``, whatever order the builds finish in."""
    sink = on_event or quiet
    if jobs <= 1 or len(defns) <= 1:
        return [build_one(project, d, builder, sink, nocache) for d in defns]
    cancel = threading.Event()
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="bakery-build")
    try:
        futures = {i: pool.submit(build_one, project, defns[i], builder, sink, nocache, cancel)
                   for i in start_order(defns)}
        return [futures[i].result() for i in range(len(defns))]
    except KeyboardInterrupt:
        # Ctrl-C lands on the main thread only; without this the workers would finish, tag
        # and record their images, and only then would bakery say "interrupted".
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
