"""The second builder: Packer's docker builder (Debian's packer 1.6.6) through packer-py.

It renders the same definition (packer_template), lets Packer run and commit a
container, then tags and records the committed image through the same ``finish`` as
the docker builder, so tags, labels, manifest, SBOM and build record match. Packer
has no layer cache: a real rebuild redoes every step (that is what bench/ measures).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path

from packerpy import PackerExecutable

from bakery.build import docker_builder as dockerb
from bakery.build.docker_builder import BuildOutcome, EventSink, PreparedBuild
from bakery.build.packer_template import STEP_MARKER, render_template
from bakery.definitions.image import ImageDefinition
from bakery.engine.client import engine
from bakery.errors import BakeryError, BuildError, EngineError
from bakery.model.events import quiet
from bakery.project import Project

ARTIFACT_ID = re.compile(r"^\d*,[^,]*,artifact,0,id,(\S+)$")
STEP = re.compile(rf"{STEP_MARKER} (\d+)/(\d+) : (.*)$")
EXIT_STATUS = re.compile(r"non-zero exit status: (\d+)")


def packer_path() -> str:
    path = shutil.which("packer")
    if path is None:
        raise EngineError("packer is not installed; apt-get install packer (Debian ships 1.6.6)")
    return path


def ui_message(line: str) -> tuple[str, str] | None:
    """(kind, text) of a machine-readable ``ui`` line, e.g. ("say", "==> docker: ..."), else None."""
    parts = line.rstrip("\n").split(",", 4)
    if len(parts) < 5 or parts[2] != "ui":
        return None
    text = parts[4].replace("%!(PACKER_COMMA)", ",").replace("\\n", "\n").replace("\\r", "")
    return parts[3], text


def artifact_id(output: str) -> str | None:
    for line in output.splitlines():
        if m := ARTIFACT_ID.match(line.strip()):
            return m.group(1)
    return None


class _Follower:
    """Reads Packer's output file while it grows, turning lines into builder events."""

    def __init__(self, path: Path, emit: EventSink):
        self.path, self.emit = path, emit
        self.tail: deque[str] = deque(maxlen=25)
        self.step = ""
        self.errors: list[str] = []
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Follower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self._poll()
            except BakeryError:
                return  # the sink refused (a cancelled build): __exit__'s poll raises it again

    def _poll(self) -> None:
        with self.path.open() as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk.rpartition("\n")[0] + "\n" if "\n" in chunk else ""
        self._offset += len(complete.encode())
        for line in complete.splitlines():
            self._line(line)

    def _line(self, line: str) -> None:
        msg = ui_message(line)
        if msg is None:
            return
        kind, text = msg
        for part in text.splitlines():
            # A provisioner's stdout comes as "    docker: ...", its stderr as an error "==> docker: ...".
            output = part.startswith("    docker: ") or (kind == "error" and part.startswith("==> docker: "))
            body = part.split(": ", 1)[1] if output else part
            if kind == "error":
                self.errors.append(part)
            if m := STEP.search(body):
                self.step = f"Step {m.group(1)}/{m.group(2)} : {m.group(3)}"
                self.tail.clear()
                self.emit("step", {"text": f"{m.group(1)}/{m.group(2)} {m.group(3)}"})
            elif output and body.strip():
                self.tail.append(body.strip())
                self.emit("log", {"text": body.strip()})


def build(project: Project, defn: ImageDefinition, on_event: EventSink | None = None,
          refresh: str | None = None, nocache: bool = False) -> BuildOutcome:
    """Like docker_builder.build, through Packer. ``nocache`` changes nothing: Packer has no cache."""
    emit = on_event or quiet
    started = time.monotonic()
    prepared = dockerb.prepare(defn, refresh, builder="packer")
    image_id = dockerb.find_image(prepared.fingerprint, defn.name)
    up_to_date = image_id is not None
    if image_id is None:
        proxy = dockerb.package_proxy(project, prepared, emit)
        image_id = _packer_build(project, prepared, emit, proxy)
    return dockerb.finish(project, prepared, image_id, up_to_date, started, emit)


def template_for(project: Project, prepared: PreparedBuild, proxy: str | None = None) -> dict:
    base_cmd = engine().images.get(prepared.base_id).attrs.get("Config", {}).get("Cmd")
    return render_template(prepared.defn, prepared.base_tag,
                           dockerb.image_labels(project, prepared, builder="packer"),
                           base_cmd=base_cmd, refresh=prepared.refresh, proxy=proxy,
                           container_name=f"bakery-packer-{prepared.defn.name}-{uuid.uuid4().hex[:8]}")


def _packer_build(project: Project, prepared: PreparedBuild, emit: EventSink,
                  proxy: str | None = None) -> str:
    template = json.dumps(template_for(project, prepared, proxy), indent=2)
    name = prepared.defn.name
    with tempfile.TemporaryDirectory(prefix="bakery-packer-") as tmp:
        out = Path(tmp) / "packer.out"
        with out.open("w") as sink, _Follower(out, emit) as follower:
            packer = PackerExecutable(executable_path=packer_path(),
                                      config={"stdout": sink, "stderr": sink})
            code, _, _ = packer.build(template, color=False)
        output = out.read_text()
    if code != 0:
        detail = "\n".join(follower.errors[-5:])
        status = EXIT_STATUS.search(detail)
        raise BuildError(
            f"{name}: packer build failed at {follower.step or 'start'}\n"
            + (f"exit code {status.group(1)}\n" if status else f"{detail or f'packer exit {code}'}\n")
            + "last lines of its log:\n" + "\n".join(f"  {x}" for x in follower.tail))
    image_id = artifact_id(output)
    if image_id is None:
        raise BuildError(f"{name}: packer finished but reported no image id")
    return image_id
