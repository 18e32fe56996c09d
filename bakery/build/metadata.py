"""Image labels: OCI annotations plus bakery's own keys. Pure.

User labels from the definition may set the OCI title and description (and any key
of their own); bakery's keys (io.bakery.*) and the OCI keys bakery derives
(version, created, revision, source) always come from bakery, so nothing in a
definition can forge a fingerprint or a version.
"""

from __future__ import annotations

import json

from bakery.definitions.image import ImageDefinition
from bakery.engine import labels

OCI_DESCRIPTION = "org.opencontainers.image.description"

# OCI keys where a user-given label wins over bakery's default.
USER_OVERRIDABLE = frozenset({labels.OCI_TITLE, OCI_DESCRIPTION})


def merge_labels(user: dict[str, str], bakery: dict[str, str]) -> dict[str, str]:
    """bakery's labels, then the user's on top, except where the key is bakery's to decide."""
    merged = dict(bakery)
    for key, value in user.items():
        if key.startswith(labels.PREFIX + ".") or (key in bakery and key not in USER_OVERRIDABLE):
            continue
        merged[key] = value
    return merged


def image_labels(defn: ImageDefinition, fingerprint: str, recipe: str, created: str,
                 source: str, revision: str = "", builder: str = "docker") -> dict[str, str]:
    """All labels an image of ``defn`` carries, whichever builder made it."""
    own = {
        labels.OCI_TITLE: defn.name,
        labels.OCI_VERSION: defn.version,
        labels.OCI_CREATED: created,
        labels.OCI_SOURCE: source,
        labels.IMAGE_NAME: defn.name,
        labels.IMAGE_VERSION: defn.version,
        labels.FINGERPRINT: fingerprint,
        labels.RECIPE: recipe,
        labels.DEFINITION: json.dumps(defn.normalised(), sort_keys=True, separators=(",", ":")),
        labels.PREFIX + ".builder": builder,
    }
    if defn.description:
        own[OCI_DESCRIPTION] = defn.description
    if revision:
        own[labels.OCI_REVISION] = revision
    return merge_labels(defn.labels, own)
