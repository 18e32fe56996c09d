"""Version numbers: one parser for the whole package, the ``semver`` library. Pure.

Definitions, ``bakery verify NAME:VERSION``, the rollout's pinned version and patch's
``X.Y.Z+patch.N`` scheme all read versions here, so they cannot disagree again (they did:
a regex in definitions accepted ``1.0.0-a..b``, the one in patch refused it). The scheme of
patched versions and why it is build metadata is in docs/patch.md and bakery/patch/versions.py.
"""

from __future__ import annotations

import re

import semver

#: ``+patch.N`` build metadata that bakery adds to a definition version when it patches it.
PATCH_META = re.compile(r"patch\.([1-9]\d*)")
#: A Docker tag holds at most 128 characters; leave room for patch's "+patch.N".
MAX_DEFINITION_LENGTH = 100

# semver.org's own regular expression, without build metadata. Only for `bakery schema`
# (editors want a pattern); lint decides with the library, and a unit test checks they agree.
DEFINITION_VERSION_PATTERN = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
)


def parse(version: str) -> semver.Version:
    """``version`` as a semver.Version; ValueError when it is not one (``1.2``, ``v1.2.3``)."""
    try:
        return semver.Version.parse(version)
    except (ValueError, TypeError):
        raise ValueError(f"not a semantic version: {version!r}") from None


def is_version(version: str) -> bool:
    """A semantic version, build metadata allowed (a patched image's ``1.2.3+patch.4``)."""
    try:
        parse(version)
    except ValueError:
        return False
    return True


def is_definition_version(version: str) -> bool:
    """What an image.yaml may say: a semantic version without build metadata (bakery adds that)."""
    try:
        return parse(version).build is None
    except ValueError:
        return False


def base_version(version: str) -> str:
    """The definition version a (possibly patched) version belongs to: 1.2.3+patch.4 -> 1.2.3."""
    return str(parse(version).replace(build=None))


def patch_number(version: str) -> int:
    """N of ``+patch.N``; 0 for a version built straight from its definition."""
    build = parse(version).build
    m = PATCH_META.fullmatch(build) if build else None
    return int(m.group(1)) if m else 0


def sort_key(version: str) -> tuple[semver.Version, int]:
    """Semver precedence (which ignores build metadata), then the patch number: for sorted()/max()."""
    return (parse(version).replace(build=None), patch_number(version))


def docker_tag(version: str) -> str:
    """The version as a Docker tag (no ``+`` allowed there)."""
    return version.replace("+", "_")


def from_docker_tag(tag: str) -> str:
    """The version a Docker tag spells (``1.0.0_patch.2`` -> ``1.0.0+patch.2``)."""
    return re.sub(r"_(patch\.\d+)$", r"+\1", tag)
