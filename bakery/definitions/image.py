"""images/<name>/image.yaml: what goes into an image.

Pure: reads the definition folder, never the engine.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bakery.definitions import limits, versions, yamlsource
from bakery.definitions.names import NAME
from bakery.definitions.secrets import command_secret_reason, secret_reason
from bakery.definitions.spec import (
    Duration,
    ListOf,
    MapOf,
    Num,
    Obj,
    OneOf,
    Str,
)
from bakery.definitions.text import check_context_path, check_image_path, check_strings
from bakery.definitions.yamlsource import Source, join

PACKAGE = r"[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?"
# An image reference as the engine parses it (distribution/reference), with a required tag
# and no registry port: name components of lowercase alphanumerics joined by ., _, __ or -.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REF = rf"{_COMPONENT}(?:/{_COMPONENT})*:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
SECRET_NAME = r"[A-Z_][A-Z0-9_]*"


@dataclass
class SemVer(Str):
    """A semantic version as image.yaml and rollouts spell it, judged by the semver library
    (bakery/definitions/versions.py), not by a regex of its own."""

    pattern_hint: str = "a semantic version like 1.2.3"

    def check(self, value: Any, key_path: str, source: Source) -> str:
        value = super().check(value, key_path, source)
        if not versions.is_definition_version(value):
            extra = ("; +build metadata is bakery's to add (+patch.N)"
                     if versions.is_version(value) else "")
            raise source.error(key_path, f"should be {self.pattern_hint}{extra}")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema = super().json_schema()
        schema["pattern"] = f"^(?:{versions.DEFINITION_VERSION_PATTERN})$"
        return schema


ARGV = OneOf((Str(min_length=1), ListOf(Str(), min_items=1)),
             description="a shell string or an argv list")

HEALTHCHECK = Obj(
    {
        "http": Obj(
            {"path": Str(pattern=r"/\S*", pattern_hint="an absolute URL path like /healthz"),
             "port": Num(minimum=1, maximum=65535)},
            required=("path", "port"),
        ),
        "command": ARGV,
        "interval": Duration(minimum=0.1, maximum=3600),
        "timeout": Duration(minimum=0.1, maximum=3600),
        "retries": Num(minimum=1, maximum=100),
        "start_period": Duration(maximum=3600),
    },
    description="How to tell the container is ready: an HTTP path and port, or a command.",
)

FILE = Obj(
    {
        "src": Str(min_length=1, description="path relative to the image folder"),
        "dest": Str(min_length=1, description="absolute path in the image"),
        "mode": Str(pattern=r"0?[0-7]{3,4}", pattern_hint="an octal mode like \"0644\""),
        "owner": Str(pattern=r"[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?",
                     pattern_hint="user or user:group"),
    },
    required=("src", "dest"),
)

IMAGE_SCHEMA = Obj(
    {
        "name": Str(pattern=NAME, pattern_hint="lowercase letters, digits and dashes"),
        "version": SemVer(max_length=versions.MAX_DEFINITION_LENGTH, max_hint="it becomes a Docker tag"),
        "description": Str(),
        "base": Str(pattern=IMAGE_REF,
                    pattern_hint="an image reference like debian:bookworm"),
        "packages": ListOf(Str(pattern=PACKAGE, pattern_hint="a Debian package, optionally =version"),
                           unique=True),
        "files": ListOf(FILE),
        "run": ListOf(Str(min_length=1), description="shell steps, each its own layer"),
        "env": MapOf(OneOf((Str(), Num(integer=False))), key_pattern=ENV_NAME,
                     key_hint="an environment variable name"),
        "user": Str(pattern=r"[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?|\d+(:\d+)?",
                    pattern_hint="a user name or uid"),
        "workdir": Str(pattern=r"/\S*", pattern_hint="an absolute path"),
        "ports": ListOf(Num(minimum=1, maximum=65535), unique=True),
        "cmd": ARGV,
        "entrypoint": ARGV,
        "healthcheck": HEALTHCHECK,
        "secrets": ListOf(Str(pattern=SECRET_NAME, pattern_hint="an UPPER_CASE name"), unique=True,
                          description="names of secrets given at run time; never values"),
        "labels": MapOf(Str(), key_pattern=r"[a-z0-9][a-z0-9._/-]*", key_hint="a label key"),
        # drift (issue 14): where a running member may write without it being drift
        "writable": ListOf(Str(pattern=r"/\S*", pattern_hint="an absolute path like /var/lib/app"),
                           unique=True,
                           description="paths a running container may change (besides /tmp, /var/tmp, "
                           "/run, /var/run, /var/log, /var/cache and /var/lib/<package>); a change "
                           "anywhere else is drift"),
    },
    required=("name", "version", "base"),
    description="A bakery image definition (images/<name>/image.yaml)",
)


@dataclass(frozen=True)
class FileSpec:
    src: str
    dest: str
    mode: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class HealthCheck:
    http_path: str | None = None
    http_port: int | None = None
    command: tuple[str, ...] | None = None
    interval: float = 2.0
    timeout: float = 3.0
    retries: int = 3
    start_period: float = 0.0


@dataclass(frozen=True)
class ImageDefinition:
    name: str
    version: str
    base: str
    folder: Path
    path: Path
    description: str = ""
    packages: tuple[str, ...] = ()
    files: tuple[FileSpec, ...] = ()
    run: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    workdir: str | None = None
    ports: tuple[int, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    healthcheck: HealthCheck | None = None
    secrets: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    writable: tuple[str, ...] = ()  # drift (issue 14); shapes no image, so not in normalised()

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def package_names(self) -> list[str]:
        return [p.split("=", 1)[0] for p in self.packages]

    def normalised(self) -> dict[str, Any]:
        """Everything that shapes the image, in a stable form (the fingerprint's input)."""
        return {
            "name": self.name,
            "version": self.version,
            "base": self.base,
            "packages": sorted(self.packages),
            "files": [asdict(f) for f in self.files],
            "run": list(self.run),
            "env": dict(sorted(self.env.items())),
            "user": self.user,
            "workdir": self.workdir,
            "ports": sorted(self.ports),
            "cmd": list(self.cmd) if self.cmd else None,
            "entrypoint": list(self.entrypoint) if self.entrypoint else None,
            "healthcheck": _plain(asdict(self.healthcheck)) if self.healthcheck else None,
            "secrets": sorted(self.secrets),
            "labels": dict(sorted(self.labels.items())),
        }


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Tuples become lists, so the normalised form equals its own JSON round trip."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _argv(value: str | list[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return ("/bin/sh", "-c", value)
    return tuple(value)


def _inside(root: Path, candidate: Path) -> bool:
    try:
        candidate.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def load_image(path: Path, project_root: Path | None = None) -> ImageDefinition:
    """Load and fully validate one image.yaml; raises DefinitionError on the first problem."""
    source = yamlsource.load(path, yamlsource.display_path(path, project_root))
    data = IMAGE_SCHEMA.check(source.data, "", source)
    folder = path.parent
    return _build(data, source, folder, path)


def _build(data: dict[str, Any], source: Source, folder: Path, path: Path) -> ImageDefinition:
    folder_name = folder.absolute().name  # load_image(Path("image.yaml")) has folder "."
    if folder_name != data["name"]:
        raise source.error("name", f"must match its folder name {folder_name!r}")
    check_strings(data, "", source)
    if "workdir" in data:
        check_image_path(data["workdir"], "workdir", source)
    files = []
    for index, spec in enumerate(data.get("files", [])):
        key = join("files", index)
        src = Path(spec["src"])
        if src.is_absolute():
            raise source.error(join(key, "src"), "must be a path relative to the image folder")
        check_context_path(spec["src"], join(key, "src"), source)
        if not _inside(folder, folder / src):
            raise source.error(join(key, "src"), "escapes the image folder")
        if posixpath.normpath(src.as_posix()).split("/")[0] == ".bakery":
            raise source.error(join(key, "src"), "may not be under .bakery/, which bakery keeps "
                               "for its rendered Dockerfile in the build context")
        if not (folder / src).is_file():
            raise source.error(join(key, "src"), f"file not found: {spec['src']}")
        dest = spec["dest"]
        if not dest.startswith("/") or posixpath.normpath(dest) != dest.rstrip("/") or \
                ".." in dest.split("/"):
            raise source.error(join(key, "dest"), "must be an absolute, normalised path in the image")
        check_image_path(dest, join(key, "dest"), source)
        files.append(FileSpec(src=spec["src"], dest=dest, mode=spec.get("mode"),
                              owner=spec.get("owner")))
    env = {k: str(v) for k, v in data.get("env", {}).items()}
    for name, value in env.items():
        reason = secret_reason(name, value)
        if reason:
            raise source.error(join("env", name), f"looks like a secret literal ({reason}); "
                               "declare its name under secrets: and pass the value at run time")
        if "\n" in value or "\r" in value:
            raise source.error(join("env", name), "may not hold a newline (an image's ENV cannot "
                               "carry one); put multi-line text in a file under files:")
    for name, value in data.get("labels", {}).items():
        reason = secret_reason(name, value)
        if reason:
            raise source.error(join("labels", name), f"looks like a secret literal ({reason})")
    health = None
    if "healthcheck" in data:  # an empty mapping is a mistake too, not "no healthcheck"
        hc = data["healthcheck"]
        if ("http" in hc) == ("command" in hc):
            raise source.error("healthcheck", "needs exactly one of http or command")
        http = hc.get("http") or {}
        health = HealthCheck(
            http_path=http.get("path"), http_port=http.get("port"),
            command=_argv(hc.get("command")),
            interval=hc.get("interval", 2.0), timeout=hc.get("timeout", 3.0),
            retries=hc.get("retries", 3), start_period=hc.get("start_period", 0.0),
        )
        if health.http_port and data.get("ports") and health.http_port not in data["ports"]:
            raise source.error("healthcheck.http.port", "is not one of the image's ports")
    for index, path in enumerate(data.get("writable", [])):  # drift (issue 14)
        if posixpath.normpath(path) != path or path == "/":
            raise source.error(join("writable", index), "must be a normalised absolute path, not / itself")
        check_image_path(path, join("writable", index), source)
    commands = [(join("run", index), step) for index, step in enumerate(data.get("run", []))]
    commands += [(key, value if isinstance(value, str) else " ".join(value))
                 for key, value in (("cmd", data.get("cmd")), ("entrypoint", data.get("entrypoint")),
                                    ("healthcheck.command", (data.get("healthcheck") or {}).get("command")))
                 if value is not None]
    for key, command in commands:
        # Commands land in the image's history and config, readable by anyone with the image.
        if re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", command):
            raise source.error(key, "contains a private key literal")
        if reason := command_secret_reason(command):
            raise source.error(key, f"looks like a secret literal ({reason}); declare its name "
                               "under secrets: and read it from the environment at run time")
    defn = ImageDefinition(
        name=data["name"], version=data["version"], base=data["base"], folder=folder, path=path,
        description=data.get("description", ""),
        packages=tuple(data.get("packages", [])), files=tuple(files),
        run=tuple(data.get("run", [])), env=env, user=data.get("user"),
        workdir=data.get("workdir"), ports=tuple(data.get("ports", [])),
        cmd=_argv(data.get("cmd")), entrypoint=_argv(data.get("entrypoint")),
        healthcheck=health, secrets=tuple(data.get("secrets", [])),
        labels=dict(data.get("labels", {})), writable=tuple(data.get("writable", [])),
    )
    limits.check(defn, source)  # what the engine would refuse at build time
    return defn
