"""Patch version numbers and their order. Pure.

A patched image of definition version ``1.2.3`` is ``1.2.3+patch.N`` (N = 1, 2, ...).
Why semver *build metadata* and not the alternatives:

- ``1.2.4`` (a patch bump) would collide with the next version the author writes
  in image.yaml, naming two different images with one version.
- ``1.2.3-patch.N`` is a semver *pre-release*: it sorts BEFORE ``1.2.3``, so every
  semver-aware tool would call the patched image older than the one it replaces.
- ``1.2.3+patch.N`` says what it is: the same release (semver gives build metadata
  no precedence, so 1.2.3+patch.2 == 1.2.3 for other tools), rebuilt. bakery breaks
  the tie with N, so within bakery 1.2.3 < 1.2.3+patch.1 < 1.2.3+patch.2 < 1.2.4.

Docker tags cannot hold ``+``; the image tag uses ``_`` in its place
(``bakery/web:1.2.3_patch.2``), the convention Helm uses for OCI tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
PATCH_META = re.compile(r"^patch\.([1-9]\d*)$")


def _parse(version: str) -> re.Match[str]:
    m = SEMVER.match(version)
    if m is None:
        raise ValueError(f"not a semantic version: {version!r}")
    return m


def base_version(version: str) -> str:
    """The definition version a (possibly patched) version belongs to: 1.2.3+patch.4 -> 1.2.3."""
    _parse(version)
    return version.split("+", 1)[0]


def patch_number(version: str) -> int:
    """N of ``+patch.N``; 0 for a version built straight from its definition."""
    meta = _parse(version).group(5)
    if meta is None:
        return 0
    m = PATCH_META.match(meta)
    return int(m.group(1)) if m else 0


def is_patch(version: str) -> bool:
    return patch_number(version) > 0


def patch_version(definition_version: str, n: int) -> str:
    if n < 1:
        raise ValueError("patch numbers start at 1")
    return f"{base_version(definition_version)}+patch.{n}"


def next_patch_version(definition_version: str, existing: Iterable[str]) -> str:
    """One past the highest patch of ``definition_version`` among ``existing`` versions."""
    base = base_version(definition_version)
    highest = 0
    for version in existing:
        if SEMVER.match(version) and base_version(version) == base:
            highest = max(highest, patch_number(version))
    return patch_version(base, highest + 1)


def _identifier_key(ident: str) -> tuple[int, int, str]:
    # semver 11.4.3: numeric identifiers sort before alphanumeric ones, numerically.
    return (0, int(ident), "") if ident.isdigit() else (1, 0, ident)


def sort_key(version: str) -> tuple:
    """Semver precedence, then the patch number: a key for sorted()/max()."""
    m = _parse(version)
    major, minor, patch, pre = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
    # A release sorts after all of its pre-releases (semver 11.3).
    pre_key = (1, ()) if pre is None else (0, tuple(_identifier_key(i) for i in pre.split(".")))
    return (major, minor, patch, pre_key, patch_number(version))


def docker_tag(version: str) -> str:
    """The version as a Docker tag (no ``+`` allowed there)."""
    return version.replace("+", "_")
