"""A benchmark's throwaway project and its removal, shared by the rollout benchmarks.

The project is a copy of the repository's images/ and rollouts/ in a new temporary folder, so
a benchmark never writes into the checkout's .bakery/; removing it takes every container and
network its rollouts made (found by the project's label), then the folder.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bakery.engine.scope import PROJECT_LABEL

ROOT = Path(__file__).resolve().parent.parent


def scratch_project(prefix: str, drop_production: bool = False) -> tuple[Path, Path]:
    """(temporary folder, project folder inside it) with images/ and rollouts/ copied in;
    ``drop_production`` leaves out rollouts/production (it asks for confirmation)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    project = tmp / "project"
    project.mkdir()
    for folder in ("images", "rollouts"):
        shutil.copytree(ROOT / folder, project / folder)
    if drop_production:
        shutil.rmtree(project / "rollouts" / "production")
    return tmp, project


def remove_project(client, project_id: str, tmp: Path) -> None:  # noqa: ANN001 - a DockerClient
    """Every container and network labelled with ``project_id``, then ``tmp``."""
    for c in client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project_id}"}):
        c.remove(force=True)
    for net in client.networks.list(filters={"label": f"{PROJECT_LABEL}={project_id}"}):
        net.remove()
    shutil.rmtree(tmp, ignore_errors=True)
