"""Build several images at once on a thread pool.

Images depend only on their bases, never on each other, so any order is right. One
failing image does not stop the others; each result carries its outcome or its error.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker.errors
import requests.exceptions

from bakery.build.builders import BuilderFn
from bakery.build.docker_builder import BuildOutcome
from bakery.definitions.image import ImageDefinition
from bakery.errors import BakeryError, EngineError
from bakery.project import Project

# on_event(name, kind, text): kind is "start", "step", "log", "info", "done" or "failed".
ImageEventSink = Callable[[str, str, str], None]


@dataclass
class BuildResult:
    name: str
    version: str
    outcome: BuildOutcome | None = None
    error: BakeryError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def build_one(project: Project, defn: ImageDefinition, builder: BuilderFn,
              on_event: ImageEventSink, nocache: bool = False) -> BuildResult:
    def emit(kind: str, text: str) -> None:
        on_event(defn.name, kind, text)

    emit("start", "")
    try:
        outcome = builder(project, defn, on_event=emit, nocache=nocache)
    except BakeryError as exc:
        emit("failed", str(exc).splitlines()[0])
        return BuildResult(defn.name, defn.version, error=exc)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        err = EngineError(f"{defn.name}: the Docker engine failed during the build: {exc}")
        emit("failed", str(err))
        return BuildResult(defn.name, defn.version, error=err)
    emit("done", "up to date" if outcome.up_to_date else f"built in {outcome.seconds:.1f}s")
    return BuildResult(defn.name, defn.version, outcome=outcome)


def build_many(project: Project, defns: list[ImageDefinition], builder: BuilderFn, jobs: int = 1,
               on_event: ImageEventSink | None = None, nocache: bool = False) -> list[BuildResult]:
    """Results in the order of ``defns``, whatever order the builds finish in."""
    sink = on_event or (lambda name, kind, text: None)
    if jobs <= 1 or len(defns) <= 1:
        return [build_one(project, d, builder, sink, nocache) for d in defns]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="bakery-build") as pool:
        futures = [pool.submit(build_one, project, d, builder, sink, nocache) for d in defns]
        return [f.result() for f in futures]
