"""Render an image definition as a Packer (1.6) JSON template for its docker builder. Pure.

The same steps as the Dockerfile, in the same order: packages, copied files, their
modes and owners, then each run step; image settings and labels go in as ``changes``
on the commit. Each shell step first echoes a marker so the build log says which step
is running (Packer has no step lines of its own for us to read).
"""

from __future__ import annotations

import json
import posixpath
import shlex
from pathlib import Path

from bakery.build.dockerfile import (
    fixup_command,
    healthcheck_instruction,
    image_env,
    package_step,
    quoted_word,
)
from bakery.definitions.image import ImageDefinition

STEP_MARKER = "bakery-step"


def _quoted(value: str) -> str:
    """A double-quoted Dockerfile word: ``docker commit`` parses changes like a Dockerfile,
    which would expand ``$VAR`` inside a label value; the docker builder's labels are not."""
    return quoted_word(value)


def commit_changes(defn: ImageDefinition, labels: dict[str, str], base_cmd: list[str] | None) -> list[str]:
    """Dockerfile instructions applied by ``docker commit``: what the Dockerfile sets after its RUNs."""
    changes = [f"ENV {k}={_quoted(v)}" for k, v in image_env(defn).items()]
    if defn.workdir:
        changes.append(f"WORKDIR {defn.workdir}")
    if defn.user:
        changes.append(f"USER {defn.user}")
    changes.extend(f"EXPOSE {port}" for port in defn.ports)
    if defn.healthcheck:
        changes.append(healthcheck_instruction(defn.healthcheck))
    if defn.entrypoint:
        changes.append(f"ENTRYPOINT {json.dumps(list(defn.entrypoint))}")
    cmd = list(defn.cmd) if defn.cmd else base_cmd
    if cmd:
        changes.append(f"CMD {json.dumps(cmd)}")
    changes.extend(f"LABEL {k}={_quoted(v)}" for k, v in sorted(labels.items()))
    return changes


def _shell(step: int, total: int, title: str, command: str, env: dict[str, str]) -> dict:
    marker = f"echo {shlex.quote(f'{STEP_MARKER} {step}/{total} : {title}')}"
    return {"type": "shell", "inline_shebang": "/bin/bash -e",
            "environment_vars": [f"{k}={v}" for k, v in env.items()],
            "inline": [marker, command]}


def provisioners(defn: ImageDefinition, refresh: str | None = None,
                 proxy: str | None = None) -> list[dict]:
    """The provisioners, in the Dockerfile's order. ``proxy`` (the package cache) reaches only
    the package step, as an environment variable of its shell: Packer passes it on that
    step's command line, and ``docker commit`` keeps only the ``changes``."""
    env = image_env(defn)
    steps: list[tuple[str, dict | str]] = []
    package_env: dict[int, dict[str, str]] = {}
    if pkg := package_step(defn.packages, refresh):
        command = pkg.removeprefix("RUN ")
        steps.append((command, command))
        if proxy:
            package_env[0] = {**env, "HTTP_PROXY": proxy}
    if defn.files:
        folders = sorted({posixpath.dirname(f.dest) for f in defn.files})
        steps.append(("mkdir " + " ".join(folders),
                      "install -d " + " ".join(shlex.quote(d) for d in folders)))
        for spec in defn.files:
            steps.append((f"COPY {spec.src} {spec.dest}",
                          {"type": "file", "source": str(Path(defn.folder, spec.src).resolve()),
                           "destination": spec.dest}))
    if fixups := fixup_command(defn):
        steps.append((fixups, fixups))
    for run in defn.run:
        steps.append((f"RUN {run}", "set -o pipefail -u\n" + run))
    result = []
    for index, (title, body) in enumerate(steps, start=1):
        if isinstance(body, dict):
            result.append(body)
        else:
            result.append(_shell(index, len(steps), title, body, package_env.get(index - 1, env)))
    return result


def render_template(defn: ImageDefinition, base_tag: str, labels: dict[str, str],
                    base_cmd: list[str] | None = None, refresh: str | None = None,
                    container_name: str | None = None, proxy: str | None = None) -> dict:
    # The base's own command (bash) keeps the container up with -i -t; Packer's default
    # --entrypoint=/bin/sh would be committed into the image, and an empty ENTRYPOINT
    # change does not clear it. Labels on the container would be committed too: a name
    # is how a left-over build container is found instead.
    run_command = ["-d", "-i", "-t"]
    if container_name:
        run_command += ["--name", container_name]
    run_command += ["--", "{{.Image}}"]
    return {
        "builders": [{
            "type": "docker", "image": base_tag, "pull": False, "commit": True,
            "changes": commit_changes(defn, labels, base_cmd), "run_command": run_command,
        }],
        "provisioners": provisioners(defn, refresh, proxy),
    }
