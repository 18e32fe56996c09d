"""Find secrets baked into a filesystem: private keys, credential files, known secret values.

Pure: works on tar streams (what the engine's get_archive returns) and on dicts, so it
needs no tool inside the image.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from bakery.definitions.secrets import secret_reason

PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# Paths (relative to any folder) that hold credentials by convention.
CREDENTIAL_FILES = (
    re.compile(r"(^|/)\.ssh/id_[^/]+$"),
    re.compile(r"(^|/)\.aws/credentials$"),
    re.compile(r"(^|/)\.netrc$"),
    re.compile(r"(^|/)\.git-credentials$"),
    re.compile(r"(^|/)\.docker/config\.json$"),
    re.compile(r"(^|/)\.pgpass$"),
    re.compile(r"(^|/)\.npmrc$"),
    re.compile(r"(^|/)\.pypirc$"),
)
# Public halves and sample files that are fine to ship.
ALLOWED = re.compile(r"\.pub$")
# Folders scanned in the running container; small on a server image, and where things get baked.
SCAN_DIRS = ("/etc", "/root", "/home", "/srv", "/opt", "/app", "/usr/local", "/var/www",
             "/var/lib", "/tmp", "/var/tmp", "/run")
# Big or generated trees that never hold a baked-in secret and slow the scan down.
SKIP_PREFIXES = ("var/lib/dpkg/", "var/lib/apt/", "usr/local/lib/python", "etc/ssl/certs/")
MAX_FILE = 2 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    kind: str  # "private key", "credentials file", "secret value", "secret in config"
    where: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}" + (f" ({self.detail})" if self.detail else "")


def scan_tar(stream: IO[bytes], secret_values: Iterable[str] = (),
             names: dict[str, str] | None = None, parent: str = "/") -> list[Finding]:
    """Scan one tar stream. ``secret_values`` are the test values injected for declared secrets;
    ``names`` maps each value to its secret's name, so a finding never prints the value;
    ``parent`` is the folder the archive's entry names are relative to."""
    values = [(v.encode(), (names or {}).get(v, "a declared secret")) for v in secret_values if v]
    findings = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            path = posixpath.join(parent, posixpath.normpath(member.name).lstrip("/"))
            relative = path.lstrip("/")
            if any(relative.startswith(p) for p in SKIP_PREFIXES):
                continue
            if any(p.search(path) for p in CREDENTIAL_FILES) and not ALLOWED.search(path):
                findings.append(Finding("credentials file", path))
            if not member.isfile() or member.size > MAX_FILE:
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            if PRIVATE_KEY.search(data):
                findings.append(Finding("private key", path))
            for value, secret in values:
                if value in data:
                    findings.append(Finding("secret value", path, f"value of {secret}"))
    return findings


def scan_config(env: dict[str, str], labels: dict[str, str], declared: Iterable[str]) -> list[Finding]:
    """Secret-looking values in the image's environment and labels, and declared secrets that
    the image sets a value for (they must arrive at run time)."""
    declared = set(declared)
    findings = []
    for key, value in sorted(env.items()):
        if key in declared and value:
            findings.append(Finding("secret in config", f"env {key}",
                                    "a declared secret has a value baked into the image"))
        elif reason := secret_reason(key, value):
            findings.append(Finding("secret in config", f"env {key}", reason))
    for key, value in sorted(labels.items()):
        if key == "io.bakery.definition":
            continue  # the normalised definition itself: names, never values
        if reason := secret_reason(key, value):
            findings.append(Finding("secret in config", f"label {key}", reason))
    return findings


def scan_text(text: str, secret_values: dict[str, str], where: str) -> list[Finding]:
    """Injected values showing up in text such as the container's log."""
    return [Finding("secret value", where, f"value of {name}")
            for name, value in secret_values.items() if value and value in text]


def parse_env_list(items: list[str] | None) -> dict[str, str]:
    env = {}
    for item in items or []:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def scan_dirs(extra: Iterable[str] = ()) -> list[str]:
    """The folders to scan, plus the parents of files the definition copies in (deduplicated)."""
    dirs = list(SCAN_DIRS)
    for path in extra:
        folder = posixpath.dirname(path.rstrip("/")) or "/"
        if folder != "/" and not any(folder == d or folder.startswith(d + "/") for d in dirs):
            dirs.append(folder)
    return dirs
