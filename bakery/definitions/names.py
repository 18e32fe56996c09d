"""Names that become paths, networks, containers and lock keys, checked once, at the edge.

An environment and a service name a file (rollouts/<env>/<service>.yaml), a Docker network
and containers (bakery-<env>-<service>-...) and a lock key; an image name a folder and a tag;
a version a tag. ``--env staging/../staging`` once reached all of them: the file resolved to
staging's, the network and lock did not. Every such name from the command line goes through
here (Project.image_path / rollout_path, which every loader uses, and the CLI edges), so one
rule holds: lowercase ASCII letters, digits and dashes, 1..63, not starting with a dash, the
rule the definitions' own ``name``/``service``/``environment`` keys follow. A refused name is
bad input (UsageError, exit 2) and nothing has been touched.
"""

from __future__ import annotations

import re

from bakery.definitions import versions
from bakery.errors import UsageError

#: Also the schema's pattern for name/service/environment keys, so a file and a flag agree.
NAME = r"[a-z0-9][a-z0-9-]{0,62}"
_NAME = re.compile(NAME)
RULE = "lowercase letters, digits and dashes, at most 63, not starting with a dash"


def is_name(value: object) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def _check(kind: str, value: str) -> str:
    if not is_name(value):
        raise UsageError(f"{value!r} is not a valid {kind} name ({RULE})")
    return value


def env(value: str) -> str:
    """An environment (a folder under rollouts/); returns it unchanged when valid."""
    return _check("environment", value)


def service(value: str) -> str:
    """A service (rollouts/<env>/<service>.yaml)."""
    return _check("service", value)


def image(value: str) -> str:
    """An image (a folder under images/)."""
    return _check("image", value)


def version(value: str) -> str:
    """A version on the command line: semver, ``+patch.N`` allowed; spelt as in image.yaml."""
    if not isinstance(value, str) or not versions.is_version(value):
        raise UsageError(f"{value!r} is not a version (like 1.2.3 or 1.2.3+patch.1)")
    return value


def image_ref(value: str) -> tuple[str | None, str]:
    """``--image VERSION`` or ``--image NAME:VERSION`` (VERSION may be spelt as its Docker tag,
    1.0.0_patch.2): (name or None, version), each checked."""
    name, sep, ver = value.rpartition(":")
    if sep and not name:
        raise UsageError(f"{value!r}: expected VERSION or NAME:VERSION")
    return (image(name) if sep else None), version(versions.from_docker_tag(ver))
