"""Build an image from its definition through the docker SDK (the engine's own builder).

The fingerprint is computed first; when an image with that fingerprint already
exists, nothing is built. A failed build leaves no tag: the image is tagged only
after the engine reports success.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import docker.errors

from bakery import RECIPE_VERSION
from bakery.build import cache, metadata, sbom
from bakery.build import fingerprint as fpmod
from bakery.build.dockerfile import (
    MANIFEST_MARK,
    PACKAGE_STEP_NUMBER,
    label_instructions,
    package_layer,
    render,
)
from bakery.definitions.image import ImageDefinition
from bakery.engine import labels
from bakery.engine.base import ensure_base
from bakery.engine.client import engine
from bakery.engine.keyed_lock import KeyedLock
from bakery.errors import BuildError
from bakery.model.events import Sink, quiet
from bakery.packages import Package, parse_dpkg_query, parse_dpkg_status
from bakery.project import Project
from bakery.store import builds
from bakery.store.db import open_store

# on_event(kind, {"text": ...}): kind is "step" (a new Dockerfile step), "log" (output) or "info".
EventSink = Sink

STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
FAILED_RUN = re.compile(r"returned a non-zero code: (\d+)")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The classic builder's own bookkeeping lines: not part of a step's log.
ENGINE_CHATTER = re.compile(r"^\s*(---> |Removing intermediate container |Successfully (built|tagged) )")


@dataclass
class BuildOutcome:
    record: builds.BuildRecord
    up_to_date: bool
    seconds: float
    tags: list[str] = field(default_factory=list)


@dataclass
class PreparedBuild:
    """Everything decided before the engine is asked to do anything."""

    defn: ImageDefinition
    base_tag: str
    base_id: str
    fingerprint: str
    dockerfile: str
    refresh: str | None = None


def prepare(defn: ImageDefinition, refresh: str | None = None, builder: str = "docker") -> PreparedBuild:
    base = ensure_base(defn.base)
    extra = {"refresh": refresh} if refresh else {}
    if builder != "docker":
        extra["builder"] = builder  # another recipe, so another image: never "up to date" across
    fp = fpmod.fingerprint(defn, fpmod.file_digests(defn), base.image_id, RECIPE_VERSION,
                           extra or None)
    return PreparedBuild(defn, base.tag, base.image_id, fp, render(defn, base.tag, refresh), refresh)


def build_context(prepared: PreparedBuild, label_lines: list[str] | None = None) -> io.BytesIO:
    """An in-memory tar: the Dockerfile and the copied files, with fixed metadata.

    Copied files keep their path relative to the image folder; the Dockerfile sits
    under .bakery/ so it cannot meet one of them. ``label_lines`` (label_instructions) end the
    Dockerfile: the labels name the build's time and revision, no input of the fingerprint,
    and come last so that the steps before them stay cacheable.
    """
    dockerfile = prepared.dockerfile + "".join(f"{line}\n" for line in label_lines or [])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add_bytes(tar, fpmod.DOCKERFILE_PATH, dockerfile.encode())
        seen = {fpmod.DOCKERFILE_PATH}
        for spec in prepared.defn.files:
            path = fpmod.context_path(spec.src)
            if path.startswith(".bakery/"):
                raise BuildError(f"{prepared.defn.path}: files: src {spec.src!r} uses the folder "
                                 ".bakery/, which bakery keeps for its rendered Dockerfile")
            if path in seen:
                continue  # the same source copied to two places
            seen.add(path)
            data = (prepared.defn.folder / spec.src).read_bytes()
            _add_bytes(tar, path, data)
    buf.seek(0)
    return buf


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def git_revision(root: Path) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def definition_source(project: Project, defn: ImageDefinition) -> str:
    return (str(defn.path.relative_to(project.root)) if defn.path.is_relative_to(project.root)
            else str(defn.path))


def image_labels(project: Project, prepared: PreparedBuild, builder: str = "docker") -> dict[str, str]:
    return metadata.image_labels(
        prepared.defn, prepared.fingerprint, RECIPE_VERSION,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        source=definition_source(project, prepared.defn),
        revision=git_revision(project.root), builder=builder)


def find_image(fp: str, name: str) -> str | None:
    """The id of the image carrying fingerprint ``fp``, if the engine has it."""
    try:
        image = engine().images.get(fpmod.fingerprint_tag(name, fp))
    except docker.errors.ImageNotFound:
        return None
    if (image.labels or {}).get(labels.FINGERPRINT) != fp:
        return None
    return image.id


def read_manifest(image_id: str) -> list[Package]:
    """Installed packages, read from the image's dpkg status without running anything in it."""
    container = engine().containers.create(image_id, command=["true"], entrypoint=[],
                                           labels={labels.ROLE: "build"})
    try:
        stream, _ = container.get_archive("/var/lib/dpkg/status")
        raw = b"".join(stream)
    except docker.errors.NotFound:
        return []
    finally:
        container.remove(force=True)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        text = member.read().decode("utf-8", "replace") if member else ""
    return parse_dpkg_status(text)


_building = KeyedLock()
_package_layers = KeyedLock()


class PackageLayerGate:
    """Held while a build makes its package layer (the base plus the package step), so that a
    twin started at the same time in this process (another image, same base, same packages)
    waits for that layer and reuses it from the engine's cache instead of making it again:
    apt and dpkg are most of a build's CPU (issue 13). Released as soon as the next step
    starts, so the twin waits for the package step only, not the whole build."""

    def __init__(self, prepared: PreparedBuild, nocache: bool) -> None:
        step = None if nocache else package_layer(prepared.dockerfile)
        self._lock = None if step is None else _package_layers.lock(f"{prepared.base_id}\n{step}")

    def enter(self, emit: EventSink) -> None:
        if self._lock is not None and not self._lock.acquire(blocking=False):
            emit("info", {"text": "waiting for the package layer another image of this run is "
                                  "making (same base, same packages): it is reused, not made twice"})
            self._lock.acquire()

    def step_started(self, number: int) -> None:
        if number > PACKAGE_STEP_NUMBER:
            self.leave()

    def leave(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def build(project: Project, defn: ImageDefinition, on_event: EventSink | None = None,
          refresh: str | None = None, nocache: bool = False) -> BuildOutcome:
    """Build ``defn`` unless an image with its fingerprint exists; record it either way."""
    emit = on_event or quiet
    started = time.monotonic()
    prepared = prepare(defn, refresh)
    with _building.hold(prepared.fingerprint):  # e.g. aptcache: built for the cache and as itself
        return _build_prepared(project, prepared, started, emit, nocache)


def _build_prepared(project: Project, prepared: PreparedBuild, started: float, emit: EventSink,
                    nocache: bool) -> BuildOutcome:
    defn = prepared.defn
    image_id = find_image(prepared.fingerprint, defn.name)
    up_to_date = image_id is not None
    manifest = None
    if image_id is None:
        proxy = package_proxy(project, prepared, emit)
        try:
            image_id, manifest = _engine_build(project, prepared, emit, nocache, proxy)
        except BuildError:
            if proxy is None or cache.find() is not None:
                raise
            # The cache went away during the build: once more, straight to the mirror.
            emit("info", {"text": "the package cache stopped answering: building again with apt "
                                  "going to the mirror directly"})
            image_id, manifest = _engine_build(project, prepared, emit, nocache, None)
    return finish(project, prepared, image_id, up_to_date, started, emit, manifest)


def package_proxy(project: Project, prepared: PreparedBuild, emit: EventSink) -> str | None:
    """The package cache's URL for this build's apt, or None (the mirror directly; the event
    says why). A build without a package step needs none; the cache's own image uses a cache
    that already runs but never starts one (it would be building itself).

    Used by every builder; the URL is a build-time setting only and no input of the fingerprint."""
    if not prepared.defn.packages and prepared.refresh is None:
        return None
    if prepared.defn.name == cache.IMAGE_NAME:
        found = cache.find() if cache.enabled() else None
        return found.url if found else None
    return package_cache(project, emit)


def package_cache(project: Project, emit: EventSink) -> str | None:
    """The running package cache's URL, starting it (and building its image) when needed;
    None when it cannot run (the event says why)."""
    return cache.endpoint(project, lambda defn: _cache_image(project, defn, emit), emit,
                          lambda defn: find_image(prepare(defn).fingerprint, defn.name))


def _cache_image(project: Project, defn: ImageDefinition, emit: EventSink) -> str:
    """The package cache's image as its definition says now: found by fingerprint (nothing is
    recorded in this project's store), else built like any image."""
    found = find_image(prepare(defn).fingerprint, defn.name)
    if found is not None:
        return found
    emit("step", {"text": f"building the package cache image ({defn.name} {defn.version})"})
    return build(project, defn, on_event=lambda kind, data: emit(
        kind, {**data, "text": f"package cache: {data.get('text', '')}"})
        if kind == "step" else None).record.image_id


def finish(project: Project, prepared: PreparedBuild, image_id: str, up_to_date: bool,
           started: float, emit: EventSink, manifest: list[Package] | None = None) -> BuildOutcome:
    """Tag a finished image, read its packages, write its SBOM, record the build.

    Shared by every builder. Tags are set only here, after the engine reported success.
    A no-op rebuild reuses the stored record and manifest and never runs a container;
    ``manifest``, when the build printed it (its last RUN ran), spares the container too.
    """
    defn = prepared.defn
    tags = [fpmod.fingerprint_tag(defn.name, prepared.fingerprint),
            fpmod.version_tag(defn.name, defn.version)]
    if not up_to_date:
        emit("step", {"text": "tagging"})  # also where a cancelled parallel build stops (runner)
    _tag(image_id, tags)
    conn = open_store(project)
    try:
        rec = builds.get(conn, prepared.fingerprint)
        if rec is None or rec.image_id != image_id:
            if manifest is None:
                emit("step", {"text": "reading installed packages"})
                manifest = read_manifest(image_id)
            rec = builds.BuildRecord(
                fingerprint=prepared.fingerprint, name=defn.name, version=defn.version,
                image_id=image_id, created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                base_id=prepared.base_id, manifest=tuple(manifest), definition=defn.normalised(),
            )
        expected = sbom.sbom_path(project.artifacts_dir, defn.name, defn.version)
        # The SBOM's path names only name and version: write it again when it describes
        # another build of that version (or is missing), so it always matches the tags.
        if rec.sbom_path != str(expected) or not sbom.describes(expected, rec.fingerprint):
            emit("step", {"text": "writing SBOM"})
            path = sbom.write_sbom(project.artifacts_dir, defn.name, defn.version,
                                   rec.fingerprint, rec.image_id, rec.manifest)
            rec = replace(rec, sbom_path=str(path))
            builds.record(conn, rec)
    finally:
        conn.close()
    if up_to_date:
        emit("info", {"text": f"up to date: {tags[0]}"})
    return BuildOutcome(rec, up_to_date, time.monotonic() - started, tags)


def _tag(image_id: str, tags: list[str]) -> None:
    image = engine().images.get(image_id)
    for tag in tags:
        repository, _, version = tag.rpartition(":")
        image.tag(repository, version)


def _render_sbom_early(prepared: PreparedBuild, printed: str) -> None:
    """Start rendering the SBOM from the packages the last RUN printed (sbom.render_early)."""
    if packages := parse_dpkg_query(printed, MANIFEST_MARK):
        sbom.render_early(prepared.defn.name, prepared.defn.version, prepared.fingerprint, packages)


def _engine_build(project: Project, prepared: PreparedBuild, emit: EventSink, nocache: bool,
                  proxy: str | None = None) -> tuple[str, list[Package] | None]:
    """Run the engine build; returns the image id and, when the last RUN ran (not a layer
    cache hit), the installed packages it printed. Raises BuildError naming the failed step.

    ``proxy`` (the running package cache, or None) decides the build's network and its
    predefined ``HTTP_PROXY`` build argument (cache.engine_build_options): RUN steps see it,
    the image's history, config and labels do not."""
    label_lines, labels_beside = label_instructions(image_labels(project, prepared))
    context = build_context(prepared, label_lines)
    log_tail: deque[str] = deque(maxlen=25)
    current_step = ""
    labels_seen = sbom_started = False
    image_id = None
    output: list[str] = []  # a line may arrive split over two events: parsed once at the end
    gate = PackageLayerGate(prepared, nocache)
    gate.enter(emit)
    try:
        stream = engine().api.build(
            fileobj=context, custom_context=True, rm=True, forcerm=True, pull=False,
            decode=True, nocache=nocache, labels=labels_beside or None,
            dockerfile=fpmod.DOCKERFILE_PATH, **cache.engine_build_options(proxy is not None),
        )
        # Only now, the request sent: a thread importing before it took the GIL from the work
        # that leads to it (up to 90 ms of a cold build's start, measured).
        sbom.preload()
        for event in stream:
            if "stream" in event:
                output.append(event["stream"])
                for line in event["stream"].splitlines():
                    if not line.strip() or line.startswith(MANIFEST_MARK):
                        continue
                    line = ANSI.sub("", line).rstrip()
                    if m := STEP_LINE.match(line):
                        gate.step_started(int(m.group(1)))
                        if not sbom_started and MANIFEST_MARK in (printed := "".join(output[:-1])):
                            sbom_started = True  # the last RUN ended: its package list is whole
                            _render_sbom_early(prepared, printed)
                        current_step = line
                        log_tail.clear()
                        text = m.group(3)
                        if text.startswith("LABEL "):  # one long line of JSON and URLs: named, not shown
                            if labels_seen:
                                continue
                            labels_seen, text = True, "LABEL (bakery and OCI labels)"
                        emit("step", {"text": f"{m.group(1)}/{m.group(2)} {text}"})
                    elif line.strip() and not ENGINE_CHATTER.match(line):
                        log_tail.append(line)
                        emit("log", {"text": line})
            if "aux" in event and "ID" in event["aux"]:
                image_id = event["aux"]["ID"]
            if "error" in event:
                detail = event.get("errorDetail", {}).get("message") or event["error"]
                code = FAILED_RUN.search(detail)
                raise BuildError(
                    f"{prepared.defn.name}: build failed at {current_step or 'start'}\n"
                    + (f"exit code {code.group(1)}\n" if code else f"{detail}\n")
                    + "last lines of its log:\n" + "\n".join(f"  {x}" for x in log_tail)
                )
    except docker.errors.APIError as exc:
        reason = exc.explanation or str(exc)
        raise BuildError(f"{prepared.defn.name}: the engine refused the build: {reason}") from exc
    finally:
        gate.leave()
    if image_id is None:
        raise BuildError(f"{prepared.defn.name}: the engine finished without an image id")
    return image_id, parse_dpkg_query("".join(output), MANIFEST_MARK) or None
