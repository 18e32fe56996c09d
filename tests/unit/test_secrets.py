"""secret_reason as data: what must be refused as a secret literal, and what must not."""

from __future__ import annotations

import pytest

from bakery.definitions import secrets
from bakery.definitions.secrets import secret_reason

BY_NAME = "name suggests a secret"
CREDENTIAL = "value looks like a credential"
TOKEN = "value looks like a random token (high entropy)"

CASES = [
    # secret by name, whatever the value
    ("DB_PASSWORD", "hunter2", BY_NAME),
    ("db_passwd", "x", BY_NAME),
    ("GPG_PASSPHRASE", "correct horse", BY_NAME),
    ("CLIENT_SECRET", "abc", BY_NAME),
    ("GITHUB_TOKEN", "abc", BY_NAME),
    ("STRIPE_API_KEY", "abc", BY_NAME),
    ("APIKEY", "abc", BY_NAME),
    ("SSH_PRIVATE_KEY", "abc", BY_NAME),
    ("AWS_ACCESS_KEY", "abc", BY_NAME),
    ("GOOGLE_CREDENTIALS", "abc", BY_NAME),
    ("BASIC_AUTH", "user", BY_NAME),
    ("OAUTH_CLIENT_ID", "web", BY_NAME),
    ("HTTP_AUTHORIZATION", "Bearer abc", BY_NAME),
    # credential shapes, whatever the name
    ("X", "AKIAIOSFODNN7EXAMPLE", CREDENTIAL),
    ("X", "ghp_" + "a1B2c3D4e5" * 4, CREDENTIAL),
    ("X", "xoxb-123456789012-abcdefghij", CREDENTIAL),
    ("X", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", CREDENTIAL),
    ("X", "-----BEGIN PRIVATE KEY-----", CREDENTIAL),
    ("DATABASE_URL", "postgres://app:s3cret@db:5432/app", CREDENTIAL),
    ("CACHE_URL", "redis://:s3cret@cache:6379/0", CREDENTIAL),
    ("DB_PASSWORD", "postgres://app:s3cret@db/app", CREDENTIAL),  # the shape is the stronger reason
    # random tokens
    ("X", "Zx9Qp2LmW7tR4vKa8NcY", TOKEN),
    ("X", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", TOKEN),
    # known vendor shapes (detect-secrets) are named as credentials before entropy is judged
    ("X", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", CREDENTIAL),
    ("X", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     CREDENTIAL),
    ("X", "https://example.com/hook?sig=Zx9Qp2LmW7tR4vKa8NcYb3", TOKEN),
    # ordinary values
    ("WEB_GREETING", "hello from bakery", None),
    ("MOTD", "The quick brown fox jumps over the lazy dog, 42 times!", None),
    ("DB_PASSWORD", "", None),  # nothing to leak
    ("VERSION", "1.2.3-rc.1+build.20240101", None),
    ("LANG", "C.UTF-8", None),
    ("ROOT", "/var/www/html", None),
    ("LIB", "/usr/lib/x86_64-linux-gnu/libFoo.so.1", None),
    ("APP_HOME", "/opt/App/v1.2.3/lib/Module_X.so", None),
    ("API_URL", "https://api.example.com/v1/Users?limit=100", None),
    ("DATABASE_URL", "postgres://app@db:5432/app", None),
    ("UPSTREAM", "http://127.0.0.1:8080/healthz", None),
    ("MAIN_CLASS", "org.example.MyApplication2", None),
    ("DISTRO", "Debian_GNU_Linux_12_bookworm", None),
    ("NODE_OPTIONS", "--max-old-space-size=4096", None),
    ("REQUEST_ID", "123e4567-e89b-12d3-a456-426614174000", None),
    ("COMMIT", "0123456789abcdef0123456789abcdef01234567", None),  # hex: two classes
    ("AUTHOR", "Alice Example <alice@example.com>", None),
    ("org.opencontainers.image.authors", "Alice Example", None),
    ("org.opencontainers.image.title", "bakery example web", None),
    ("WORKERS", "4", None),
    ("DNS", "8.8.8.8", None),  # detect-secrets' Public IP plugin is not used: an address is no secret
]


@pytest.mark.parametrize(("name", "value", "reason"), CASES, ids=[f"{n}={v[:24]}" for n, v, _ in CASES])
def test_secret_reason(name: str, value: str, reason: str | None) -> None:
    assert secret_reason(name, value) == reason


# which rule catches what (the comment at the top of bakery/definitions/secrets.py) ---------------

def detect_secrets_types(value: str) -> list[str]:
    return [d.secret_type for d in secrets._detectors() if any(True for _ in d.analyze_string(value))]


# Only detect-secrets knows these shapes: bakery's own shapes and its entropy rule miss them.
ONLY_DETECT_SECRETS = [
    ("AKIAIOSFODNN7EXAMPLE", "AWS Access Key"),
    ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "Slack Token"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----", "Private Key"),
    ("PuTTY-User-Key-File-2: ssh-rsa", "Private Key"),
]


@pytest.mark.parametrize(("value", "kind"), ONLY_DETECT_SECRETS)
def test_shapes_only_detect_secrets_catches(value: str, kind: str) -> None:
    assert kind in detect_secrets_types(value)
    assert not any(shape.search(value) for shape in secrets.BAKERY_SHAPES)
    assert not secrets.looks_high_entropy(value)
    assert secret_reason("X", value) == CREDENTIAL


# bakery's own shapes catch these; detect-secrets does not.
ONLY_BAKERY = [
    "redis://:s3cret@cache:6379/0",  # a URL password with an empty user
    "-----BEGIN ENCRYPTED PRIVATE KEY-----",  # encrypted PKCS#8
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",  # GitHub fine-grained token
]


@pytest.mark.parametrize("value", ONLY_BAKERY)
def test_shapes_only_bakery_catches(value: str) -> None:
    assert detect_secrets_types(value) == []
    assert secret_reason("X", value) == CREDENTIAL


def test_names_and_entropy_catch_what_no_shape_does() -> None:
    assert detect_secrets_types("hunter2") == [] and secret_reason("DB_PASSWORD", "hunter2") == BY_NAME
    token = "Zx9Qp2LmW7tR4vKa8NcY"
    assert detect_secrets_types(token) == [] and secret_reason("X", token) == TOKEN


def test_detect_secrets_is_not_imported_by_bakery_help() -> None:
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from bakery.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0; "
            "print('detect_secrets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
