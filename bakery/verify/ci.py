"""`bakery ci`: which definitions to lint, which images to build and verify, and the run itself.

Selection is pure (paths -> image names); git is asked for the paths. Linting covers every
definition on every run; only images whose folders changed are built and verified. The CLI
(bakery/cli/verify.py) only parses options and prints the events of ``run``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bakery.build.docker_builder import build
from bakery.errors import BakeryError, UsageError
from bakery.model.events import quiet
from bakery.project import Project
from bakery.store.builds import BuildRecord
from bakery.verify import junit
from bakery.verify.model import ERROR, CheckResult, VerifyReport
from bakery.verify.runner import EventSink, suite, verify
from bakery.verify.session import TEST_TIMEOUT


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


# -- the whole run ---------------------------------------------------------------------------

@dataclass
class CiOutcome:
    """What `bakery ci` did: the JUnit suites (lint, build, one per verification) and what failed."""

    selection: Selection
    suites: list[junit.Suite]
    failed: list[str]

    @property
    def passed(self) -> bool:
        return not self.failed


def run(project: Project, base: str | None, *, on_event: EventSink | None = None,
        on_report: Callable[[VerifyReport], None] | None = None,
        test_timeout: float = TEST_TIMEOUT,
        lint_checks: Callable[[Project], list[CheckResult]] | None = None,
        build_check: Callable[[Project, BuildRecord], CheckResult | None] | None = None) -> CiOutcome:
    """Lint every definition, then build and verify each selected image that linted. Does all
    it can and reports every failure (a lint error, a build, a verification) in the outcome.

    ``on_event(kind, text)``: "lint-passed"/"lint-failed" (text: path, then the error as a
    "detail" event), "selection", "rollouts", "built", "build-failed", "verify-failed",
    and the progress kinds of runner.verify ("info", "build", a check outcome); ``on_report``
    receives each finished verification report. Raises UsageError for an unknown --base.

    ``lint_checks`` and ``build_check``: more checks the caller adds (the CLI adds the project's
    Rego policies): cases appended to the lint suite, and one case after each build (None: fine)."""
    emit = on_event or quiet
    lint_results, valid = lint(project)
    if lint_checks is not None:
        lint_results += lint_checks(project)
    for result in lint_results:
        emit("lint-passed" if result.passed else "lint-failed", {"text": result.name})
        if not result.passed:
            emit("detail", {"text": result.message})
    selection = select(project, base)
    emit("selection", {"text": f"{selection.reason}: {', '.join(selection.names) or 'nothing to build'}"})
    if selection.changed_rollouts:
        emit("rollouts", {"text": ", ".join(selection.changed_rollouts)})
    build_suite = junit.Suite("bakery build", [], classname="build")
    suites = [junit.Suite("bakery lint", lint_results, classname="lint"), build_suite]
    failed = [r.name for r in lint_results if not r.passed]
    for name in selection.names:
        if name not in valid:
            continue  # its lint failure is already reported
        started = time.monotonic()
        try:
            outcome = build(project, project.load_image(name), on_event=lambda kind, data:
                            emit(kind if kind == "info" else "build", data)
                            if kind in ("step", "info") else None)
        except BakeryError as exc:
            build_suite.cases.append(CheckResult(name, False, time.monotonic() - started, str(exc),
                                                 outcome=ERROR, group="build"))
            emit("build-failed", {"text": f"{name}: {exc}"})
            failed.append(f"build {name}")
            continue
        rec = outcome.record
        state = "up to date" if outcome.up_to_date else f"built in {outcome.seconds:.1f}s"
        build_suite.cases.append(CheckResult(name, True, outcome.seconds, state, group="build"))
        emit("built", {"text": f"{name} {rec.version} fp-{rec.short_fingerprint} {state}"})
        if build_check is not None and (case := build_check(project, rec)) is not None:
            build_suite.cases.append(case)
            failed.append(case.name)
        try:
            report = verify(project, name, fingerprint=rec.fingerprint, test_timeout=test_timeout,
                            on_event=lambda kind, data, name=name: emit(kind, {**data, "image": name}))
        except BakeryError as exc:
            suites.append(junit.Suite(f"bakery verify {name}", [CheckResult(
                "verification", False, time.monotonic() - started, str(exc), outcome=ERROR,
                group="setup")], classname=name))
            emit("verify-failed", {"text": f"{name}: {exc}"})
            failed.append(f"verify {name}")
            continue
        suites.append(suite(report))
        if on_report is not None:
            on_report(report)
        if not report.passed:
            failed.append(f"verify {name}")
    return CiOutcome(selection, suites, failed)
