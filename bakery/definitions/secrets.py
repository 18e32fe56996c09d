"""Recognise values that look like secrets, so they never get baked in (invariant 6)."""

from __future__ import annotations

import math
import re
from collections import Counter

SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)",
    re.IGNORECASE,
)
SECRET_SHAPES = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub token
    re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b"),  # Slack token
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # credentials inside a URL
)


def entropy_bits_per_char(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def looks_high_entropy(value: str) -> bool:
    """Long, dense, mixed-alphabet strings: random tokens rather than words or paths."""
    if len(value) < 20 or any(c.isspace() for c in value):
        return False
    classes = sum(
        bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    if "/" in value and classes < 3:  # paths
        return False
    return classes >= 3 and entropy_bits_per_char(value) >= 4.0


def secret_reason(name: str, value: str) -> str | None:
    """Why ``name=value`` looks like a secret literal, or None when it does not."""
    if not value:
        return None
    for shape in SECRET_SHAPES:
        if shape.search(value):
            return "value looks like a credential"
    if SECRET_NAME.search(name):
        return "name suggests a secret"
    if looks_high_entropy(value):
        return "value looks like a random token (high entropy)"
    return None
