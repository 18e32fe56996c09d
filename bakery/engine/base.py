"""Base images: pull where a registry answers, else bootstrap Debian with mmdebstrap.

A definition says ``base: debian:bookworm``; the build uses the local image
``bakery/base/debian:bookworm`` that this module makes available.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import docker.errors

from bakery.definitions.image import IMAGE_REF
from bakery.engine import labels
from bakery.engine.client import engine
from bakery.engine.keyed_lock import KeyedLock
from bakery.errors import EngineError, UsageError
from bakery.packages import Package, parse_dpkg_status

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITES = ("bookworm", "trixie", "bullseye", "sid", "stable", "testing")


@dataclass(frozen=True)
class BaseImage:
    ref: str  # as written in definitions: debian:bookworm
    tag: str  # local tag: bakery/base/debian:bookworm
    image_id: str
    created: bool  # False when it was already there (a no-op)
    source: str  # "local", "pull" or "mmdebstrap"
    seconds: float = 0.0


def local_tag(ref: str) -> str:
    # The namespace is configurable so a benchmark can bootstrap without replacing the real base.
    return f"{os.environ.get('BAKERY_BASE_NAMESPACE', 'bakery/base')}/{ref}"


def mirror() -> str:
    return os.environ.get("BAKERY_MIRROR", DEFAULT_MIRROR)


def debian_sources(suite: str, mirror_url: str) -> list[str]:
    """apt source lines for a suite: main, updates and security, so patch rebuilds see fixes."""
    lines = [f"deb {mirror_url} {suite} main"]
    if suite not in ("sid", "unstable", "testing"):
        lines.append(f"deb {mirror_url} {suite}-updates main")
        security = mirror_url.rstrip("/")
        if security.endswith("/debian"):
            security = security[: -len("/debian")] + "/debian-security"
            lines.append(f"deb {security} {suite}-security main")
    return lines


def find_local(ref: str) -> str | None:
    """The id of the local base image for ``ref``, or None."""
    try:
        return engine().images.get(local_tag(ref)).id
    except docker.errors.ImageNotFound:
        return None


_making = KeyedLock()


def ensure_base(ref: str, refresh: bool = False) -> BaseImage:
    """Make ``ref`` available locally; a no-op when it already is, unless ``refresh``."""
    if ":" not in ref:
        raise UsageError(f"base reference {ref!r} needs a tag, like debian:bookworm")
    if not re.fullmatch(IMAGE_REF, ref):
        # The engine would refuse it with a 400 that used to surface as a traceback.
        raise UsageError(f"base reference {ref!r} is not an image reference like debian:bookworm")
    tag = local_tag(ref)
    existing = find_local(ref)
    if existing and not refresh:
        return BaseImage(ref, tag, existing, created=False, source="local")
    with _making.hold(ref):  # parallel builds on one missing base bootstrap it once
        existing = find_local(ref)
        if existing and not refresh:
            return BaseImage(ref, tag, existing, created=False, source="local")
        return _make(ref, tag)


def _make(ref: str, tag: str) -> BaseImage:
    started = time.monotonic()
    image_id = _try_pull(ref, tag)
    source = "pull"
    if image_id is None:
        image_id = _bootstrap(ref, tag)
        source = "mmdebstrap"
    return BaseImage(ref, tag, image_id, created=True, source=source,
                     seconds=time.monotonic() - started)


def _try_pull(ref: str, tag: str) -> str | None:
    if os.environ.get("BAKERY_BASE_PULL", "1") == "0":
        return None
    repository, _, version = ref.rpartition(":")
    try:
        image = engine().images.pull(repository, tag=version)
    except docker.errors.APIError:
        return None  # no registry answers here; bootstrap instead
    image.tag(tag.rpartition(":")[0], tag.rpartition(":")[2])
    return image.id


def _bootstrap(ref: str, tag: str) -> str:
    distro, _, suite = ref.rpartition(":")
    if distro != "debian" or suite not in DEBIAN_SUITES:
        raise EngineError(f"cannot pull {ref} and can only bootstrap debian:<suite> "
                          f"({', '.join(DEBIAN_SUITES)}) without a registry")
    if shutil.which("mmdebstrap") is None:
        raise EngineError("mmdebstrap is not installed; run scripts/setup.sh or "
                          "apt-get install mmdebstrap")
    mirror_url = mirror()
    with tempfile.TemporaryDirectory(prefix="bakery-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        cmd = ["mmdebstrap", "--variant=minbase", "--quiet",
               "--include=ca-certificates",
               "--aptopt=Acquire::Retries \"3\"",
               # Keep images small and apt quiet in builds.
               "--dpkgopt=path-exclude=/usr/share/doc/*",
               "--dpkgopt=path-include=/usr/share/doc/*/copyright",
               "--dpkgopt=path-exclude=/usr/share/man/*",
               "--dpkgopt=path-exclude=/usr/share/locale/*",
               suite, str(rootfs), *debian_sources(suite, mirror_url)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise EngineError(f"mmdebstrap failed for {ref} (exit {proc.returncode}):\n{tail}")
        packages = _manifest_from_tar(rootfs)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        changes = [
            f'LABEL {labels.BASE_REF}="{ref}"',
            f'LABEL {labels.BASE_SUITE}="{suite}"',
            f'LABEL {labels.BASE_MIRROR}="{mirror_url}"',
            f'LABEL {labels.BASE_CREATED}="{created}"',
            f'LABEL {labels.BASE_MANIFEST}="{" ".join(f"{p.name}={p.version}" for p in packages)}"',
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            'CMD ["/bin/bash"]',
        ]
        repository, _, version = tag.rpartition(":")
        try:
            result = engine().api.import_image_from_file(
                str(rootfs), repository=repository, tag=version, changes=changes)
        except docker.errors.APIError as exc:
            raise EngineError(f"docker import of {ref} failed: {exc}") from exc
    image_id = find_local(ref)
    if image_id is None:
        raise EngineError(f"docker import of {ref} reported {result!r} but no image is tagged {tag}")
    return image_id


def _manifest_from_tar(rootfs: Path) -> list[Package]:
    with tarfile.open(rootfs) as tar:
        for name in ("./var/lib/dpkg/status", "var/lib/dpkg/status"):
            try:
                member = tar.extractfile(name)
            except KeyError:
                continue
            if member is not None:
                return parse_dpkg_status(io.TextIOWrapper(member, encoding="utf-8").read())
    return []


def base_manifest(ref: str) -> list[Package]:
    """The packages recorded on the local base image's label."""
    image = engine().images.get(local_tag(ref))
    text = (image.labels or {}).get(labels.BASE_MANIFEST, "")
    packages = []
    for line in text.split():
        name, _, version = line.partition("=")
        packages.append(Package(name, version, ""))
    return packages
