"""The `bakery` command line. Each command's module is loaded when that command runs
(``app.COMMANDS``); its functions register themselves on ``app.main``."""

from bakery.cli.app import main, run

__all__ = ["main", "run"]
