"""What a verification produces. Pure data, serialisable to the state store and JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"
ERROR = "error"


@dataclass
class CommandRun:
    """One command run inside the container during a check, with what it printed."""

    command: str
    exit_status: int
    stdout: str = ""
    stderr: str = ""

    def render(self, limit: int = 20) -> str:
        lines = [f"$ {self.command}", f"(exit {self.exit_status})"]
        for stream in (self.stdout, self.stderr):
            body = stream.rstrip("\n").splitlines()
            if len(body) > limit:
                body = body[:limit] + [f"... ({len(body) - limit} more lines)"]
            lines.extend(body)
        return "\n".join(lines)


@dataclass
class CheckResult:
    """One check's outcome. ``command``/``output``: the last command run inside the container."""

    name: str
    passed: bool
    duration: float
    message: str = ""
    command: str = ""
    output: str = ""
    outcome: str = PASSED  # passed, failed, skipped or error
    group: str = "builtin"  # "builtin", "tests" (the image's own) or "setup"
    details: str = ""  # the full assertion report (traceback), for JUnit

    @property
    def skipped(self) -> bool:
        return self.outcome == SKIPPED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class VerifyReport:
    name: str
    version: str
    fingerprint: str
    image_ref: str
    image_id: str
    started: str
    duration: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # lines in the image's tests bakery ignores

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def counts(self) -> dict[str, int]:
        out = {PASSED: 0, FAILED: 0, SKIPPED: 0, ERROR: 0}
        for check in self.checks:
            out[check.outcome] = out.get(check.outcome, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "fingerprint": self.fingerprint,
            "image_ref": self.image_ref, "image_id": self.image_id, "started": self.started,
            "duration": round(self.duration, 3), "passed": self.passed, "counts": self.counts(),
            "checks": [c.as_dict() for c in self.checks], "warnings": list(self.warnings),
        }


def redact(text: str, values: list[str] | tuple[str, ...]) -> str:
    """Replace every injected secret value so none reaches a log, a report or the store."""
    for value in values:
        if value:
            text = text.replace(value, "***")
    return text


def redact_check(check: CheckResult, values: list[str] | tuple[str, ...]) -> CheckResult:
    for attr in ("message", "command", "output", "details"):
        setattr(check, attr, redact(getattr(check, attr), values))
    return check
