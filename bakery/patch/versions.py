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

Parsing and ordering live in bakery/definitions/versions.py (the ``semver`` library), shared
with definitions and verify; this module adds what only patch needs: making patch versions.
"""

from __future__ import annotations

from collections.abc import Iterable

from bakery.definitions.versions import (
    base_version,
    docker_tag,
    is_version,
    patch_number,
    sort_key,
)

__all__ = ["base_version", "docker_tag", "is_patch", "next_patch_version", "patch_number",
           "patch_version", "sort_key"]


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
        if is_version(version) and base_version(version) == base:
            highest = max(highest, patch_number(version))
    return patch_version(base, highest + 1)
