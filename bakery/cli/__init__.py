"""The `bakery` command line. Each module below adds its commands to ``app.main``."""

from bakery.cli import (  # noqa: F401 - registers commands
    base,
    build,
    definitions,
    images,
    patch,
    rollout,
    verify,
)
from bakery.cli.app import main, run

__all__ = ["main", "run"]
