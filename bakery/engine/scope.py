"""Names for everything one environment+service owns, unique per project. Pure.

Parallel projects (tests, two checkouts) share one engine, so names carry a short hash of
the project root: networks, the LB container, fleet containers and the LB config folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bakery.engine import labels
from bakery.project import Project

PROJECT_LABEL = f"{labels.PREFIX}.project"
SLOT_LABEL = f"{labels.PREFIX}.slot"
CONFIG_LABEL = f"{labels.PREFIX}.lb.config"


@dataclass(frozen=True)
class Scope:
    root: Path
    state_dir: Path
    env: str
    service: str

    @property
    def project_id(self) -> str:
        return hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:8]

    @property
    def slug(self) -> str:
        return f"{self.project_id}-{self.env}-{self.service}"

    @property
    def network(self) -> str:
        return f"bakery-{self.slug}"

    @property
    def lb_container(self) -> str:
        return f"bakery-lb-{self.slug}"

    @property
    def lb_dir(self) -> Path:
        return self.state_dir / "lb" / f"{self.env}-{self.service}"

    @property
    def lock_key(self) -> str:
        return f"rollout:{self.env}/{self.service}"

    def container_name(self, colour: str, index: int, rollout_id: str) -> str:
        return f"bakery-{self.slug}-{colour}{index}-{rollout_id[-8:]}"

    def labels(self, role: str) -> dict[str, str]:
        return {PROJECT_LABEL: self.project_id, labels.ENV: self.env,
                labels.SERVICE: self.service, labels.ROLE: role}

    def label_filter(self, role: str) -> list[str]:
        return [f"{k}={v}" for k, v in self.labels(role).items()]


def scope_for(project: Project, env: str, service: str) -> Scope:
    return Scope(project.root, project.state_dir, env, service)
