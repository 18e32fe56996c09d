"""What the parent hands to the pytest child: the container, the image as built, test secrets.

Written to a 0600 file for the child's lifetime only (it holds the injected test values)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONTEXT_ENV = "BAKERY_VERIFY_CONTEXT"
# Set when the child starts before the container is healthy: it runs no check until this file exists.
GO_ENV = "BAKERY_VERIFY_GO"
# Where bakery's process writes the filesystem scan the child's checks read (fsscan.py).
SCAN_ENV = "BAKERY_VERIFY_SCAN"
# The built-in checks, collected by path next to the image's tests.
BUILTIN_MODULE = Path(__file__).with_name("builtin_checks.py")


@dataclass
class VerifyContext:
    container_id: str
    container_name: str
    ip: str
    name: str
    version: str
    fingerprint: str
    image_id: str
    image_folder: str
    definition: dict[str, Any]
    packages: dict[str, str]  # declared package -> version the build recorded
    results_path: str
    secret_values: dict[str, str] = field(default_factory=dict)
    health_status: str | None = None

    @property
    def ports(self) -> list[int]:
        return list(self.definition.get("ports") or [])

    @property
    def user(self) -> str | None:
        return self.definition.get("user")

    @property
    def healthcheck(self) -> dict[str, Any] | None:
        return self.definition.get("healthcheck")

    def save(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle)

    @classmethod
    def load(cls, path: Path | str) -> VerifyContext:
        return cls(**json.loads(Path(path).read_text()))
