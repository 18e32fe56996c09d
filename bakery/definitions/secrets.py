"""Recognise values that look like secrets, so they never get baked in (invariant 6)."""

from __future__ import annotations

import functools
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
# Which rule catches what (issue 9.6; tests/unit/test_secrets.py holds each case):
#
# detect-secrets' pattern plugins (credential *shapes*, kept up to date upstream): AWS key ids
#   (AKIA/ASIA/ABIA/ACCA/A3T), GitHub (ghp_/gho_/ghu_/ghs_/ghr_), GitLab (glpat- ...), Slack
#   tokens and webhooks, Stripe, Twilio, SendGrid, Mailchimp, Discord, Telegram, npm auth,
#   PyPI, OpenAI, JSON Web Tokens, Azure storage keys, Artifactory, IBM, SoftLayer, Square,
#   Cloudant, private keys (RSA, EC, DSA, OpenSSH, PGP, PuTTY, PKCS#8 "PRIVATE KEY") and
#   user:password@ in URLs. Not used: its Public IP plugin (an address is no secret), and its
#   keyword and entropy plugins, which bakery's own rules below replace because they catch more.
# bakery's own rules, where they catch more:
#   - BAKERY_SHAPES: any "-----BEGIN ... PRIVATE KEY-----" header (detect-secrets misses
#     "ENCRYPTED PRIVATE KEY", the encrypted PKCS#8 form), a URL password with an *empty* user
#     (redis://:pw@cache, which its BasicAuth pattern needs a user for), and GitHub
#     fine-grained tokens (github_pat_...), which it does not know.
#   - SECRET_NAME: a literal under a secret-sounding name (DB_PASSWORD: hunter2), whatever its
#     shape; detect-secrets' KeywordDetector reads source-code lines (password = "..."), not
#     the key/value pairs of a definition.
#   - looks_high_entropy: random tokens of no known vendor (generic API keys, AWS secret keys);
#     detect-secrets' entropy plugins judge only quoted strings, and at limits low enough to
#     catch a 20-character token they flag plain words too.
BAKERY_SHAPES = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"://[^/\s:@]*:[^/\s@]+@"),  # credentials inside a URL (user may be empty)
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}"),  # GitHub fine-grained token
)
#: detect-secrets plugins that are not credential shapes (see above).
_NOT_SHAPES = frozenset({"Public IP (ipv4)"})


@functools.cache
def _detectors() -> tuple:
    """detect-secrets' regex plugins, made once. Imported here, on the first definition
    checked, not at start-up: the library costs ~0.1-0.2 s to import and `bakery --help`
    (or any command that reads no definition) must not pay it."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    return tuple(cls() for kind, cls in sorted(get_mapping_from_secret_type_to_class().items())
                 if issubclass(cls, RegexBasedDetector) and kind not in _NOT_SHAPES)


def credential_shape(value: str) -> str | None:
    """The kind of credential ``value`` holds by its shape, or None."""
    for shape in BAKERY_SHAPES:
        if shape.search(value):
            return "credential"
    for detector in _detectors():
        if any(True for _ in detector.analyze_string(value)):
            return detector.secret_type
    return None

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
    if credential_shape(value):
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
    if credential_shape(command):
        return "a value looks like a credential"
    for match in _ASSIGNMENT.finditer(command):
        name, value = match.group(1), match.group(2).strip("\"'")
        if SECRET_NAME.search(name) and value and "$" not in value and not value.startswith("/"):
            return f"{name} is given a literal value"
    return None
