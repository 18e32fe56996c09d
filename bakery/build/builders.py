"""Builders by name, imported only when asked for; an unknown name is a clear error.

Every builder is a function ``build(project, defn, on_event=None, refresh=None,
nocache=False) -> BuildOutcome`` that finishes through ``docker_builder.finish``
(tags, manifest, SBOM, build record), so what comes out is the same whichever made it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from bakery.build.docker_builder import BuildOutcome
from bakery.errors import UsageError

BUILDERS = {
    "docker": "bakery.build.docker_builder",
    "packer": "bakery.build.packer_builder",
}

BuilderFn = Callable[..., BuildOutcome]


def get(name: str) -> BuilderFn:
    if name not in BUILDERS:
        raise UsageError(f"unknown builder {name!r} (known: {', '.join(sorted(BUILDERS))})")
    return importlib.import_module(BUILDERS[name]).build
