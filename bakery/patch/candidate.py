"""Undo a candidate build that changed no package (I/O): no new image, no build record.

build() tags and records every image it makes; a patch candidate whose manifest equals
the current image's must leave no trace, or a second run would find "new" images.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import docker.errors

from bakery.build.docker_builder import BuildOutcome
from bakery.engine.client import engine
from bakery.project import Project


def discard(project: Project, conn: sqlite3.Connection, outcome: BuildOutcome) -> None:
    """Remove the candidate's tags (the image goes with its last tag) and its build record."""
    if outcome.up_to_date:
        return  # the image existed before this run: not ours to remove
    for tag in outcome.tags:
        try:
            engine().images.remove(tag)
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.APIError:
            continue  # e.g. a container uses it; untagging failed, the record still goes
    conn.execute("DELETE FROM builds WHERE fingerprint = ?", (outcome.record.fingerprint,))
    sbom = outcome.record.sbom_path
    if sbom:
        path = Path(sbom)
        if not path.is_absolute():
            path = project.artifacts_dir / path
        if path.is_file() and path.resolve().is_relative_to(project.artifacts_dir.resolve()):
            path.unlink()
