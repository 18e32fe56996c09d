"""Drift: what a member is against what its rollout put there, as findings. Pure.

Every rule is a function of plain values (``facts.py``), so each is a unit test; reading the
engine is the inspector adapter's job (``rollout/adapters/inspect_docker.py``).
"""

from __future__ import annotations

import posixpath
from dataclasses import asdict, dataclass, field
from typing import Any

from bakery.drift.facts import ADDED, DELETED, KIND_NAMES, Expected, MemberFacts, Proc, under
from bakery.verify import procfs


@dataclass(frozen=True)
class Finding:
    kind: str  # image | config | file | process | state
    subject: str  # what: the key, the path, the process
    detail: str  # in words: seen vs expected

    def text(self) -> str:
        return f"{self.kind} {self.subject}: {self.detail}"


@dataclass
class MemberReport:
    """One member's verdict: ``clean``, ``drifted`` or ``unreadable`` (it could not be inspected)."""

    env: str
    service: str
    role: str  # live | standby
    colour: str
    slot: int
    name: str
    version: str
    fingerprint: str
    findings: list[Finding] = field(default_factory=list)
    error: str = ""

    @property
    def verdict(self) -> str:
        if self.error:
            return "unreadable"
        return "drifted" if self.findings else "clean"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict
        return data


def check_image(expected: Expected, seen: MemberFacts) -> list[Finding]:
    """The member runs the verified build its fingerprint label names."""
    out = []
    if expected.image is None:
        return [Finding("image", "fingerprint", f"fp-{expected.fingerprint[:12]} is no build of this "
                                                "project (no build record): not a bakery image")]
    if seen.image_id != expected.image.image_id:
        out.append(Finding("image", "id", f"runs {seen.image_id[:19]}, not the build "
                                          f"fp-{expected.fingerprint[:12]} ({expected.image.image_id[:19]})"))
    if not expected.verified:
        out.append(Finding("image", "verification", f"fp-{expected.fingerprint[:12]} has no passed "
                                                    "verification"))
    return out


def _argv_text(argv: tuple[str, ...] | None) -> str:
    return " ".join(argv) if argv else "(none)"


def check_config(expected: Expected, seen: MemberFacts) -> list[Finding]:
    """Command, env names, mounts, published ports, user, labels and restart policy: a member is
    started from the image with nothing added but the definition's secrets and bakery's labels."""
    image = expected.image
    if image is None:
        return []
    out = []
    if seen.entrypoint != image.entrypoint:
        out.append(Finding("config", "entrypoint", f"{_argv_text(seen.entrypoint)!r}, the image has "
                                                   f"{_argv_text(image.entrypoint)!r}"))
    if seen.cmd != image.cmd:
        out.append(Finding("config", "command", f"{_argv_text(seen.cmd)!r}, the image has "
                                                f"{_argv_text(image.cmd)!r}"))
    extra = sorted(seen.env_names - image.env_names - expected.secrets)
    missing = sorted(image.env_names - seen.env_names)
    if extra:
        out.append(Finding("config", "env", f"names not in the image or the definition: {', '.join(extra)}"))
    if missing:
        out.append(Finding("config", "env", f"image names missing: {', '.join(missing)}"))
    if seen.user != image.user:
        out.append(Finding("config", "user", f"{seen.user or '(image default: root)'!r}, the image has "
                                             f"{image.user or '(root)'!r}"))
    mounts = sorted(set(seen.mounts) - set(image.volumes))
    if mounts:
        out.append(Finding("config", "mounts", f"mounted at {', '.join(mounts)}; the rollout mounts nothing"))
    published = sorted(set(seen.published) - set(expected.published))
    if published:
        out.append(Finding("config", "ports", f"published {', '.join(published)}; expected "
                                              f"{', '.join(expected.published) or 'none'}"))
    if seen.restart_policy not in ("no", ""):
        out.append(Finding("config", "restart", f"restart policy {seen.restart_policy!r}; the rollout "
                                                "starts members with none"))
    for key, value in sorted(image.labels.items()):
        if seen.labels.get(key) != value:
            out.append(Finding("config", f"label {key}",
                               f"{seen.labels.get(key)!r}, the image has {value!r}"))
    added = sorted(k for k in seen.labels if k not in image.labels and not k.startswith("io.bakery."))
    if added:
        out.append(Finding("config", "labels", f"added: {', '.join(added)}"))
    return out


def leaf_changes(changes: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    """``container.diff()`` lists each changed file and every parent folder as changed; a folder
    whose change is explained by a change below it is dropped."""
    paths = [posixpath.normpath(p) for p, _ in changes]
    parents = {posixpath.dirname(p) for p in paths}
    for p in list(parents):
        while p not in ("/", ""):
            p = posixpath.dirname(p)
            parents.add(p)
    return sorted((path, kind) for path, (_, kind) in zip(paths, changes, strict=True)
                  if path not in parents)


def outside_writable(expected: Expected, seen: MemberFacts) -> list[tuple[str, int]]:
    """The changes drift reports: leaves outside the writable paths. The reader asks for the
    content of exactly these (``content_differs``)."""
    return [(p, k) for p, k in leaf_changes(seen.changes) if not under(p, expected.writable)]


def check_files(expected: Expected, seen: MemberFacts) -> list[Finding]:
    out = []
    for path, kind in outside_writable(expected, seen):
        if kind == ADDED:
            detail = "added (the image has no such file)"
        elif kind == DELETED:
            detail = "deleted (the image has it)"
        else:
            differs = seen.content_differs.get(path)
            detail = ("changed: content differs from the image's copy" if differs
                      else "changed: same content as the image's copy (metadata only)" if differs is False
                      else "changed (content not compared)")
        out.append(Finding("file", path, detail))
    return out


def _healthcheck_argv(test: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ("/bin/sh", "-c", *test[1:])
    return test[1:] if test[0] == "CMD" else test


def _is_healthcheck(proc: Proc, health: tuple[str, ...] | None) -> bool:
    if not health or not proc.cmdline:
        return False
    if proc.cmdline == health:
        return True
    # `sh -c SCRIPT` may show its shell by another path; the script is what identifies it
    return len(health) == 3 and health[1] == "-c" and proc.cmdline[1:] == health[1:]


def foreign_processes(expected: Expected, procs: tuple[Proc, ...], reader: int) -> list[Proc]:
    """Processes the image did not start: each whose line of parents ends at parent 0 instead of
    PID 1 (a `docker exec` has parent 0 in the container), other than drift's own reading exec
    and the engine's healthcheck, and their children. A process seen half (it exited while
    /proc was read) is never a finding: one that stays is seen whole the next time."""
    by_pid = {p.pid: p for p in procs}
    health = _healthcheck_argv(expected.image.healthcheck if expected.image else None)
    out = []
    for proc in procs:
        if proc.pid == 1 or not proc.cmdline:  # no cmdline: it exited while being read
            continue
        top, seen = proc, {proc.pid}
        while top.ppid not in (0, 1) and top.ppid in by_pid and top.ppid not in seen:
            top = by_pid[top.ppid]
            seen.add(top.pid)
        if top.ppid != 0:  # under PID 1, or its parent exited while being read (a finished check)
            continue
        if top.pid == reader or _is_healthcheck(top, health):
            continue
        out.append(proc)
    return out


def check_processes(expected: Expected, seen: MemberFacts) -> list[Finding]:
    if seen.processes is None:
        return []
    out = []
    init = next((p for p in seen.processes if p.pid == 1), None)
    if init is not None and expected.programs and not procfs.process_matches(
            init.comm, list(init.cmdline), list(expected.programs)):
        out.append(Finding("process", "pid 1", f"{' '.join(init.cmdline) or init.comm!r}, the image "
                                               f"starts {', '.join(expected.programs)}"))
    for proc in foreign_processes(expected, seen.processes, seen.reader_pid):
        out.append(Finding("process", f"pid {proc.pid}", f"{' '.join(proc.cmdline) or proc.comm!r} was not "
                                                         "started by the image (an exec into the member?)"))
    return out


def check_state(expected: Expected, seen: MemberFacts) -> list[Finding]:
    if seen.status == "missing":
        return [Finding("state", "member", "missing: the slot has no container")]
    if expected.must_run and seen.status != "running":
        return [Finding("state", "status", f"{seen.status}: a live member must run")]
    return []


def compare(expected: Expected, seen: MemberFacts) -> list[Finding]:
    """Every finding for one member, in a stable order: state, image, config, files, processes."""
    if seen.status == "missing":
        return check_state(expected, seen)
    return (check_state(expected, seen) + check_image(expected, seen) + check_config(expected, seen)
            + check_files(expected, seen) + check_processes(expected, seen))


def exit_code(reports: list[MemberReport]) -> int:
    """1 when a member could not be inspected, else 3 when any drifted, else 0."""
    if any(r.verdict == "unreadable" for r in reports):
        return 1
    return 3 if any(r.verdict == "drifted" for r in reports) else 0


__all__ = ["KIND_NAMES", "Finding", "MemberReport", "compare", "exit_code"]
