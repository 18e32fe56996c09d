"""One exception tree for everything bakery raises on purpose.

    BakeryError                  exit code 1 unless stated
    ├── DefinitionError          bad input: file, line, key path; exit code 2
    ├── EngineError              the Docker engine is missing or refused a call
    ├── BuildError               a build step failed
    ├── VerifyError              verification could not run or failed
    ├── BalancerError            the load balancer refused a command
    ├── RolloutError             a rollout could not go on (unhealthy green, failed analysis)
    ├── LockError                someone else holds the lock
    └── StoreError               the state store is unusable

Third-party errors are mapped at the boundary (``raise EngineError(...) from exc``)
so the CLI only ever has to know this tree.
"""

from __future__ import annotations

from pathlib import Path


class BakeryError(Exception):
    exit_code = 1


class DefinitionError(BakeryError):
    """A definition is malformed. Names the file, the line and the key path."""

    exit_code = 2

    def __init__(self, path: Path | str, line: int | None, key: str | None, message: str):
        self.path = Path(path)
        self.line = line
        self.key = key
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.message}"
        return f"{where}: {self.message}"


class UsageError(BakeryError):
    """The command line asks for something that cannot be (unknown image, bad ref)."""

    exit_code = 2


class EngineError(BakeryError):
    pass


class BuildError(BakeryError):
    pass


class VerifyError(BakeryError):
    pass


class BalancerError(BakeryError):
    pass


class RolloutError(BakeryError):
    pass


class LockError(BakeryError):
    pass


class StoreError(BakeryError):
    pass
