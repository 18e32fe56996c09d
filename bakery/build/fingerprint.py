"""The content fingerprint that names an image (invariant 2). Pure."""

from __future__ import annotations

import hashlib
import json
import posixpath
from pathlib import PurePosixPath

from bakery import RECIPE_VERSION
from bakery.definitions.image import ImageDefinition


def file_digests(defn: ImageDefinition) -> dict[str, str]:
    """sha256 of every file the definition copies, keyed by its src."""
    return {f.src: hashlib.sha256((defn.folder / f.src).read_bytes()).hexdigest()
            for f in defn.files}


def fingerprint(defn: ImageDefinition, digests: dict[str, str], base_id: str,
                recipe: str = RECIPE_VERSION, extra: dict[str, str] | None = None) -> str:
    """sha256 over the normalised definition, file contents, base image id and recipe version.

    ``extra`` carries inputs that are not in the definition but change the image
    (a patch rebuild's refresh stamp, for instance).
    """
    material = {
        "recipe": recipe,
        "definition": defn.normalised(),
        "files": dict(sorted(digests.items())),
        "base": base_id,
        "extra": dict(sorted((extra or {}).items())),
    }
    blob = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def short(fp: str) -> str:
    return fp[:12]


def image_repository(name: str) -> str:
    return f"bakery/{name}"


def fingerprint_tag(name: str, fp: str) -> str:
    return f"{image_repository(name)}:fp-{short(fp)}"


def version_tag(name: str, version: str) -> str:
    # Docker tags cannot hold "+" (semver build metadata, used by patch versions: 1.0.0+patch.1).
    return f"{image_repository(name)}:{version.replace('+', '_')}"


# The rendered Dockerfile sits in a folder of its own inside the build context, so that
# copied files keep their own relative paths (files/x stays files/x, not files/files/x).
DOCKERFILE_PATH = ".bakery/Dockerfile"


def context_path(src: str) -> str:
    """Where a copied file lives inside the build context: its path relative to the image folder."""
    return posixpath.normpath(PurePosixPath(src).as_posix())
