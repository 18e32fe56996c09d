"""What a policy evaluation yields: findings that name their policy file and, when the rule
says which key it concerns, the definition file and line. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DENY = "deny"
WARN = "warn"


@dataclass(frozen=True)
class Finding:
    level: str               # "deny" or "warn"
    message: str
    policy: str              # the policy file that said it (or its package, if it spans files)
    subject: str             # what was checked: "image web", "rollout production/web"
    file: str                # the definition file, relative to the project
    line: int | None = None  # the line of ``key`` in ``file``, when the rule named a key
    key: str | None = None   # a key path into the definition, e.g. "strategy.canary"

    @property
    def denied(self) -> bool:
        return self.level == DENY

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def render(self) -> str:
        key = f"{self.key}: " if self.key else ""
        return f"{self.location()}: {key}{self.message} [{self.policy}]"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def level_of(rule: str) -> str | None:
    """conftest's naming: ``deny``/``violation`` (and ``deny_*``) fail, ``warn`` (``warn_*``) warns."""
    head = rule.split("_", 1)[0]
    if head in ("deny", "violation"):
        return DENY
    if head == "warn":
        return WARN
    return None


def split_result(value: Any) -> tuple[str, str | None]:
    """A rule's result is a message string, or an object ``{"msg": ..., "key": ...}``."""
    if isinstance(value, dict):
        message = value.get("msg", value.get("message"))
        key = value.get("key")
        text = message if isinstance(message, str) else str(value)
        return text, key if isinstance(key, str) and key else None
    return (value if isinstance(value, str) else str(value)), None


def denials(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.denied]
