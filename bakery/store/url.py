"""Where the state lives: a state URL, from BAKERY_STATE or `state:` in the project file.

    unset, "" or "sqlite:"          .bakery/state.db of the project (today's default)
    sqlite:relative/file.db         a SQLite file, relative to the project folder
    sqlite:///absolute/file.db      a SQLite file by absolute path
    postgresql://user@host/db       a PostgreSQL server (any libpq URI; postgres:// too)

The project file is ``bakery.yaml`` at the project root. It is shared through git, so a
password in its URL is refused: libpq reads PGPASSWORD or ~/.pgpass instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bakery.definitions.spec import Obj, Str
from bakery.definitions.yamlsource import load
from bakery.errors import DefinitionError, UsageError
from bakery.project import Project

ENV_VAR = "BAKERY_STATE"
PROJECT_FILE = "bakery.yaml"

_PROJECT_SPEC = Obj(
    fields={"state": Str(description="The state URL: sqlite:<path> or postgresql://... (see docs/state.md)")},
    description="Project-wide settings of a bakery project.",
)


@dataclass(frozen=True)
class StateURL:
    """A parsed state URL: a SQLite file (``path``) or a PostgreSQL DSN (``dsn``)."""

    backend: str  # "sqlite" | "postgresql"
    path: Path | None = None
    dsn: str | None = None

    @property
    def is_postgresql(self) -> bool:
        return self.backend == "postgresql"

    def display(self) -> str:
        """For messages and `bakery state show`: the DSN with any password masked."""
        if self.path is not None:
            return f"sqlite:{self.path}"
        parts = urlsplit(self.dsn or "")
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self.dsn or ""


class BadStateURL(ValueError):
    """A state URL that is neither sqlite: nor postgresql:// (the caller says where it came from)."""


def parse(text: str, default_path: Path | None = None, base: Path | None = None) -> StateURL:
    """Parse ``text``; ``default_path`` is what a bare "sqlite:" means, ``base`` anchors relative paths."""
    text = text.strip()
    if text in ("", "sqlite:", "sqlite://"):
        if default_path is None:
            raise BadStateURL("a bare 'sqlite:' needs a project (its .bakery/state.db)")
        return StateURL("sqlite", path=default_path)
    if text.startswith("sqlite:"):
        rest = text[len("sqlite:"):]
        if rest.startswith("///"):
            rest = rest[2:]
        elif rest.startswith("//"):
            raise BadStateURL(f"{text!r}: write sqlite:///absolute/path or sqlite:relative/path")
        path = Path(rest)
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return StateURL("sqlite", path=path)
    if text.startswith(("postgresql://", "postgres://")):
        return StateURL("postgresql", dsn=text)
    raise BadStateURL(f"{text!r} is not a state URL: use sqlite:<path> or postgresql://...")


def as_state_url(target: Path | str | StateURL) -> StateURL:
    """What ``connect`` accepts: a Path (a SQLite file, as callers pass ``project.db_path``),
    a URL string, or a parsed StateURL."""
    if isinstance(target, StateURL):
        return target
    if isinstance(target, Path):
        return StateURL("sqlite", path=target)
    try:
        return parse(target)
    except BadStateURL as exc:
        raise UsageError(str(exc)) from None


def project_setting(project: Project) -> tuple[str | None, Path]:
    """The ``state:`` of the project file (None when there is no file or no key), and the file."""
    path = project.root / PROJECT_FILE
    if not path.is_file():
        return None, path
    source = load(path, Path(PROJECT_FILE))
    settings = _PROJECT_SPEC.check(source.data, "", source)
    state = settings.get("state")
    if state is not None and urlsplit(state).password:
        raise source.error("state", "a password in a file kept in git; put it in PGPASSWORD or "
                                    "~/.pgpass (or the whole URL in BAKERY_STATE) instead")
    if state is not None:
        try:
            parse(state, project.db_path, project.root)
        except BadStateURL as exc:
            raise source.error("state", str(exc)) from None
    return state, path


def state_url(project: Project) -> StateURL:
    """BAKERY_STATE when set, else ``state:`` of bakery.yaml, else the project's .bakery/state.db."""
    if env := os.environ.get(ENV_VAR, "").strip():
        try:
            return parse(env, project.db_path, project.root)
        except BadStateURL as exc:
            raise UsageError(f"{ENV_VAR}: {exc}") from None
    state, path = project_setting(project)
    if state is None:
        return StateURL("sqlite", path=project.db_path)
    try:
        return parse(state, project.db_path, project.root)
    except BadStateURL as exc:  # already checked in project_setting; kept for type narrowing
        raise DefinitionError(PROJECT_FILE, None, "state", str(exc)) from None
