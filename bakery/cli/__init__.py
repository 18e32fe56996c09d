"""The `bakery` command line. Each module below adds its commands to ``app.main``."""

from bakery.cli import base, build, definitions, patch  # noqa: F401 - registers commands
from bakery.cli.app import main, run

__all__ = ["main", "run"]
