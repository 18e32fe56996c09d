"""Recognise values that look like secrets, so they never get baked in (invariant 6)."""

from __future__ import annotations

import math
import re
from collections import Counter

# AUTH only as a word of its own (BASIC_AUTH, OAUTH_CLIENT, AUTHORIZATION), so that
# AUTHOR and the standard org.opencontainers.image.authors label are not secrets.
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL"
    r"|AUTH(?:ORIZATION)?(?![A-Z]))",
    re.IGNORECASE,
)
SECRET_SHAPES = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub token
    re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b"),  # Slack token
    re.compile(r"://[^/\s:@]*:[^/\s@]+@"),  # credentials inside a URL (user may be empty)
)

# One opaque token: the base64 / base64url / hex alphabet, not a path.
_OPAQUE = re.compile(r"[A-Za-z0-9+=_-][A-Za-z0-9+/=_-]*")
# What separates the parts of structured values: paths, URLs, dotted names, host:port.
_SEPARATORS = re.compile(r"[/.:?&=@,;#~]+")
# Random tokens have long unbroken runs; identifiers like Debian_GNU_Linux_12 do not.
_RUN = re.compile(r"[A-Za-z0-9+/]{12,}")


def entropy_bits_per_char(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _dense(token: str) -> bool:
    """At least 20 characters from three character classes, close to random."""
    if len(token) < 20 or not _RUN.search(token):
        return False
    classes = sum(
        bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    # A random string of n distinct-ish symbols has about log2(n) bits per character;
    # words and identifiers repeat letters and stay well below that.
    threshold = min(4.0, 0.8 * math.log2(len(token)))
    return classes >= 3 and entropy_bits_per_char(token) >= threshold


def looks_high_entropy(value: str) -> bool:
    """Long, dense, mixed-alphabet strings: random tokens rather than words or paths.

    A value made of one opaque token is judged whole; a structured value (a path,
    a URL, a dotted name) is judged by its parts, so ``/opt/App/v1.2.3/lib`` or
    ``https://api.example.com/v1/Users`` are not tokens but a token inside one is.
    """
    if len(value) < 20 or any(c.isspace() for c in value):
        return False
    if _OPAQUE.fullmatch(value):
        return _dense(value)
    return any(_dense(part) for part in _SEPARATORS.split(value))


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


# NAME=value in a shell command; the value quoted or bare.
_ASSIGNMENT = re.compile(r"""\b([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;&|)]*)""")


def command_secret_reason(command: str) -> str | None:
    """Why a command (a run step, cmd, entrypoint, health command) holds a secret literal.

    Commands are baked into the image's history and config, so a credential-shaped value,
    or a literal assigned to a secret-sounding variable (``DB_PASSWORD=hunter2``), is refused.
    References (``$API_TOKEN``, ``${DB_PASSWORD:-}``) and file paths (``PASSWORD_FILE=/run/...``)
    name where a secret is at run time, which is the point, so they pass. Entropy is not
    judged here: checksums and key fingerprints are at home in build commands.
    """
    for shape in SECRET_SHAPES:
        if shape.search(command):
            return "a value looks like a credential"
    for match in _ASSIGNMENT.finditer(command):
        name, value = match.group(1), match.group(2).strip("\"'")
        if SECRET_NAME.search(name) and value and "$" not in value and not value.startswith("/"):
            return f"{name} is given a literal value"
    return None
