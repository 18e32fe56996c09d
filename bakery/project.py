"""Where a bakery project lives on disk: images/, rollouts/ and the .bakery/ state folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bakery.definitions import names
from bakery.definitions.image import ImageDefinition, load_image
from bakery.definitions.rollout import RolloutDefinition, load_rollout
from bakery.errors import BakeryError, DefinitionError, UsageError


@dataclass(frozen=True)
class LintResult:
    """One definition file checked: its path relative to the project, and the error, if any."""

    path: str
    error: BakeryError | None
    image: str | None = None  # the image name, for image definitions


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def rollouts_dir(self) -> Path:
        return self.root / "rollouts"

    @property
    def state_dir(self) -> Path:
        return Path(os.environ.get("BAKERY_STATE_DIR", self.root / ".bakery"))

    @property
    def db_path(self) -> Path:
        return self.state_dir / "state.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.state_dir / "artifacts"

    def is_project(self) -> bool:
        return self.images_dir.is_dir() or self.rollouts_dir.is_dir()

    def image_names(self) -> list[str]:
        if not self.images_dir.is_dir():
            return []
        return sorted(p.parent.name for p in self.images_dir.glob("*/image.yaml"))

    def image_path(self, name: str) -> Path:
        """images/<name>/image.yaml; a name that is not one ("web/../lb") is a UsageError."""
        if not names.is_name(name):
            raise UsageError(f"no image definition named {name!r}: an image name is "
                             f"{names.RULE} (known: {', '.join(self.image_names()) or 'none'})")
        return self.images_dir / name / "image.yaml"

    def load_image(self, name: str) -> ImageDefinition:
        path = self.image_path(name)
        if not path.parent.is_dir():
            known = ", ".join(self.image_names()) or "none"
            raise UsageError(f"no image definition named {name!r} (known: {known})")
        return load_image(path, self.root)

    def load_images(self, names: list[str] | None = None) -> list[ImageDefinition]:
        if names:
            return [self.load_image(n) for n in names]
        # Folders found on disk are loaded by path: a badly named one is then reported by the
        # schema with its line (name must match the folder), not refused as a command-line name.
        return [load_image(self.images_dir / n / "image.yaml", self.root) for n in self.image_names()]

    def lint(self) -> list[LintResult]:
        """Load every image and rollout definition; the first problem in each file is kept."""
        results = []
        # Files found on disk are loaded by path, not by name (see load_images).
        for name in self.image_names():
            try:
                load_image(self.images_dir / name / "image.yaml", self.root)
                error = None
            except BakeryError as exc:
                error = exc
            results.append(LintResult(f"images/{name}/image.yaml", error, image=name))
        for path in self.rollout_paths():
            try:
                self._load_rollout_file(path)
                error = None
            except BakeryError as exc:
                error = exc
            results.append(LintResult(path.relative_to(self.root).as_posix(), error))
        return results

    def rollout_paths(self) -> list[Path]:
        if not self.rollouts_dir.is_dir():
            return []
        return sorted(self.rollouts_dir.glob("*/*.yaml"))

    def rollout_path(self, env: str, service: str) -> Path:
        """rollouts/<env>/<service>.yaml. Every rollout, rollback and plan comes through here
        (via load_rollout), so an env or service that is not a name ("staging/../staging")
        is refused before any network, container or lock is named after it."""
        return self.rollouts_dir / names.env(env) / f"{names.service(service)}.yaml"

    def load_rollout(self, env: str, service: str) -> RolloutDefinition:
        path = self.rollout_path(env, service)
        if not path.is_file():
            raise UsageError(f"no rollout definition {path.relative_to(self.root)}")
        return self._load_rollout_file(path)

    def _load_rollout_file(self, path: Path) -> RolloutDefinition:
        rollout = load_rollout(path, self.root)
        if rollout.image_name not in self.image_names():
            raise DefinitionError(path.relative_to(self.root), None, "image.name",
                                  f"no image definition named {rollout.image_name!r} under images/")
        return rollout


def named_project(folder: Path) -> Project:
    """The project a user named (--project, BAKERY_PROJECT); a folder without images/ or
    rollouts/ is a mistake (a typo, a wrong cwd), not an empty project to create state in."""
    project = Project(folder.resolve())
    if not project.is_project():
        raise UsageError(f"no bakery project at {folder}: no images/ or rollouts/ folder there")
    return project


def find_project(start: Path | None = None) -> Project:
    """BAKERY_PROJECT if set, else the nearest folder upwards that holds images/ or rollouts/."""
    if env := os.environ.get("BAKERY_PROJECT"):
        return named_project(Path(env))
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "images").is_dir() or (folder / "rollouts").is_dir():
            return Project(folder)
    raise UsageError(f"no bakery project here: no images/ or rollouts/ folder in {here} "
                     "or any folder above it")
