"""Render an image definition as a Dockerfile. Pure.

Layer order follows how often things change, so that the engine's cache reuses
the early layers: packages, then copied files, then env, then each run step.
"""

from __future__ import annotations

import json
import shlex

from bakery.build.fingerprint import context_path
from bakery.definitions.image import HealthCheck, ImageDefinition
from bakery.definitions.limits import DOCKERFILE_LINE_MAX

APT_FLAGS = "-y -q --no-install-recommends -o Dpkg::Options::=--force-confold"


def package_step(packages: tuple[str, ...], refresh: str | None = None) -> str | None:
    """One RUN that installs the packages. ``refresh`` (a patch stamp) also upgrades everything
    and, being part of the text, makes the engine's cache miss for this step."""
    if not packages and refresh is None:
        return None
    parts = ["apt-get update -q"]
    if refresh is not None:
        parts.append(f"apt-get upgrade {APT_FLAGS}")
    if packages:
        parts.append(f"apt-get install {APT_FLAGS} " + " ".join(shlex.quote(p) for p in packages))
    parts.append("apt-get clean && rm -rf /var/lib/apt/lists/*")
    if refresh is not None:
        # The stamp is part of the command text, so the engine's cache cannot match it.
        parts.insert(0, f": bakery-refresh={shlex.quote(refresh)}")
    # The package cache reaches this step alone: bakery passes its address as the predefined
    # build argument HTTP_PROXY (kept out of history and config, and read by no apt), and only
    # here does apt get it; a definition's own run steps go wherever they go without it.
    return ("RUN export DEBIAN_FRONTEND=noninteractive http_proxy=\"${HTTP_PROXY:-}\" && "
            + " && ".join(parts))


def healthcheck_instruction(hc: HealthCheck) -> str:
    if hc.command:
        argv = list(hc.command)
    else:
        # bash's /dev/tcp: needs no curl or wget inside the image. The path is printf's
        # argument, shell-quoted: a ' or % in it is data, not shell syntax or a format.
        request = "GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n"
        script = (f"exec 3<>/dev/tcp/127.0.0.1/{hc.http_port} && printf '{request}' "
                  f"{shlex.quote(hc.http_path or '/')} >&3 && head -n1 <&3 | grep -q ' 200 '")
        argv = ["/bin/bash", "-c", script]
    start = f"--start-period={hc.start_period}s " if hc.start_period else ""
    return (f"HEALTHCHECK --interval={hc.interval}s --timeout={hc.timeout}s {start}"
            f"--retries={hc.retries} CMD {json.dumps(argv)}")


def fixup_command(defn: ImageDefinition) -> str | None:
    """Modes and owners of copied files, as one shell command (one layer)."""
    fixups = []
    for spec in defn.files:
        if spec.mode:
            fixups.append(f"chmod {spec.mode} {shlex.quote(spec.dest)}")
        if spec.owner:
            fixups.append(f"chown {spec.owner} {shlex.quote(spec.dest)}")
    return " && ".join(fixups) or None


def quoted_word(value: str) -> str:
    """``value`` as one double-quoted Dockerfile word that the engine reads back literally.

    json.dumps is not that: the engine expands ``$VAR`` inside double quotes, and keeps
    json's ``\\u00e9`` as six characters. Line breaks cannot be expressed at all (the
    definition refuses them)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def label_instructions(labels: dict[str, str], line_max: int = DOCKERFILE_LINE_MAX
                       ) -> tuple[list[str], dict[str, str]]:
    """The labels as LABEL instructions to end the Dockerfile, and those too long for any line.

    The classic builder turns each label given beside a build (the API's ``labels``) into a
    step of its own, about 80 ms apiece; labels in one instruction are one step. A line holds at
    most ``line_max`` characters (limits.py), so labels fill as few lines as fit; one label
    longer than a line on its own (a long description or definition) still goes beside the
    build, where the request's 1 MiB is its limit, as before. Keys sorted. Pure."""
    lines: list[str] = []
    line = ""
    beside: dict[str, str] = {}
    for key, value in sorted(labels.items()):
        word = f"{quoted_word(key)}={quoted_word(value)}"
        if len("LABEL ") + len(word) > line_max:
            beside[key] = value
        elif line and len(line) + 1 + len(word) <= line_max:
            line += " " + word
        else:
            if line:
                lines.append(line)
            line = "LABEL " + word
    if line:
        lines.append(line)
    return lines, beside


def image_env(defn: ImageDefinition) -> dict[str, str]:
    """The environment baked into the image (and seen by its run steps)."""
    return {"BAKERY_IMAGE_NAME": defn.name, "BAKERY_IMAGE_VERSION": defn.version, **defn.env}


# The last RUN also prints the installed packages (one line each, after this marker), so the
# builder reads the manifest from the build's own output instead of starting a container
# for it afterwards (issue 13). Nothing after the last RUN changes /var/lib/dpkg.
MANIFEST_MARK = "@@bakery-dpkg"
# (An image without dpkg-query prints nothing; the builder then reads the image itself.)
MANIFEST_QUERY = (f"if command -v dpkg-query >/dev/null; then dpkg-query -W -f='{MANIFEST_MARK} "
                  "${db:Status-Abbrev}|${Package}|${Version}|${Architecture}\\n'; fi")


def with_manifest_query(lines: list[str]) -> list[str]:
    """``lines`` with the manifest query appended to the last RUN (none: unchanged). Pure.

    A RUN in exec form (a definition's run step, ``bash -euo pipefail -c STEP``) gets it as
    one more line of STEP, so it runs only when STEP succeeded; a shell-form RUN gets ``&&``."""
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if not line.startswith("RUN "):
            continue
        body = line[len("RUN "):]
        if body.startswith("["):
            argv = json.loads(body)
            argv[-1] = f"{argv[-1]}\n{MANIFEST_QUERY}"
            lines[index] = "RUN " + json.dumps(argv)
        else:
            lines[index] = f"{line} && {MANIFEST_QUERY}"
        break
    return lines


# The package step is the build's step 2, right after FROM (render).
PACKAGE_STEP_NUMBER = 2


def package_layer(rendered: str) -> str | None:
    """The instruction of ``render``'s package step, which makes the first layer on the base,
    or None when there is none. With the base it is that layer's key in the engine's cache."""
    lines = rendered.splitlines()
    if len(lines) >= PACKAGE_STEP_NUMBER and lines[PACKAGE_STEP_NUMBER - 1].startswith("RUN "):
        return lines[PACKAGE_STEP_NUMBER - 1]
    return None


def render(defn: ImageDefinition, base_tag: str, refresh: str | None = None) -> str:
    lines = [f"FROM {base_tag}"]
    # The package step sits right on the base (before SHELL; it needs no bash): every image of
    # that base with the same packages then looks up one parent in the engine's layer cache,
    # so a second such image reuses the first one's layer even when other images built at the
    # same time made SHELL layers of their own (parallel `build --all`, issue 13).
    if step := package_step(defn.packages, refresh):
        lines.append(step)
    lines.append("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]")
    for spec in defn.files:
        lines.append(f"COPY {json.dumps([context_path(spec.src), spec.dest])}")
    if fixups := fixup_command(defn):
        lines.append("RUN " + fixups)
    lines.append("ENV " + " ".join(f"{k}={quoted_word(v)}" for k, v in image_env(defn).items()))
    for step in defn.run:
        lines.append("RUN " + json.dumps(["/bin/bash", "-euo", "pipefail", "-c", step]))
    lines = with_manifest_query(lines)
    if defn.workdir:
        lines.append(f"WORKDIR {defn.workdir}")
    if defn.user:
        lines.append(f"USER {defn.user}")
    for port in defn.ports:
        lines.append(f"EXPOSE {port}")
    if defn.healthcheck:
        lines.append(healthcheck_instruction(defn.healthcheck))
    if defn.entrypoint:
        lines.append(f"ENTRYPOINT {json.dumps(list(defn.entrypoint))}")
    if defn.cmd:
        lines.append(f"CMD {json.dumps(list(defn.cmd))}")
    return "\n".join(lines) + "\n"
