"""`bakery ci`: which definitions to lint, which images to build and verify.

Selection is pure (paths -> image names); git is asked for the paths. Linting covers every
definition on every run; only images whose folders changed are built and verified.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bakery.errors import UsageError
from bakery.project import Project
from bakery.verify.model import ERROR, CheckResult


@dataclass
class Selection:
    names: list[str]
    reason: str
    changed_rollouts: list[str] = field(default_factory=list)


def classify(paths: list[str], known_images: list[str]) -> tuple[list[str], list[str]]:
    """(changed image names, changed rollout files) from paths relative to the project. Pure.

    An image folder that no longer exists (deleted) has nothing to build and is left out."""
    images: set[str] = set()
    rollouts: set[str] = set()
    for raw in paths:
        parts = PurePosixPath(raw).parts
        if len(parts) >= 3 and parts[0] == "images" and parts[1] in known_images:
            images.add(parts[1])
        elif len(parts) >= 2 and parts[0] == "rollouts":
            rollouts.add(raw)
    return sorted(images), sorted(rollouts)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=False, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return subprocess.CompletedProcess(["git", *args], 128, "", str(exc))


def has_history(root: Path) -> bool:
    return _git(root, "rev-parse", "--verify", "--quiet", "HEAD").returncode == 0


def changed_paths(root: Path, base: str) -> list[str]:
    """Paths (relative to ``root``) changed since ``base``: committed (base...HEAD), staged,
    unstaged and untracked. Raises UsageError for an unknown ref."""
    if _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").returncode != 0:
        raise UsageError(f"--base {base!r} is not a commit in this repository "
                         "(fetch it first, e.g. `git fetch origin main`)")
    out: set[str] = set()
    for args in (("diff", "--name-only", "--relative", f"{base}...HEAD"),
                 ("diff", "--name-only", "--relative", "HEAD"),
                 ("ls-files", "--others", "--exclude-standard")):
        proc = _git(root, *args)
        if proc.returncode != 0:
            raise UsageError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
        out.update(line for line in proc.stdout.splitlines() if line)
    return sorted(out)


def select(project: Project, base: str | None) -> Selection:
    names = project.image_names()
    if not base:
        return Selection(names, "all images (no --base given)")
    if not has_history(project.root):
        return Selection(names, "all images (no git history here)")
    images, rollouts = classify(changed_paths(project.root, base), names)
    return Selection(images, f"images changed since {base}", rollouts)


def lint(project: Project) -> tuple[list[CheckResult], set[str]]:
    """Validate every image and rollout definition: one check per file, and the valid images."""
    results = []
    valid: set[str] = set()
    for checked in project.lint():
        if checked.error is not None:
            results.append(CheckResult(checked.path, False, 0.0, str(checked.error), outcome=ERROR,
                                       group="lint"))
            continue
        if checked.image:
            valid.add(checked.image)
        results.append(CheckResult(checked.path, True, 0.0, group="lint"))
    return results, valid
