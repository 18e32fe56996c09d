"""Open the state store: a SQLite file (the default) or a PostgreSQL server, behind one interface.

Every store module talks to a ``Connection``: ``execute(sql, params)`` with ``?`` placeholders
and rows that behave like dicts (``row["name"]``, ``row[0]``, ``row.keys()``). On PostgreSQL
the placeholders become psycopg's ``%s``. Each backend's own error types become StoreError
here, with a sentence saying what is wrong, so no caller ever shows a driver traceback.

A SQLite store is created atomically (built aside, then linked into place) and leaves a marker
file next to it; once the marker exists, a missing or empty state.db is refused instead of
being silently re-created empty (that would lose history, verification records and locks).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bakery.errors import StoreError
from bakery.project import Project
from bakery.store import migrations
from bakery.store.url import StateURL, as_state_url, state_url

Params = Sequence[Any] | None

_CHECK_HINT = "run `bakery state check` to see what is wrong and how to restore it"


def marker_path(db_path: Path) -> Path:
    """The marker that says this SQLite store was initialised (kept next to it in .bakery/)."""
    return db_path.with_name(db_path.name + ".marker")


class Row(dict):
    """A PostgreSQL row that reads like sqlite3.Row: by column name or by position."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


def _pg_rows(cursor: Any) -> Any:
    names = [c.name for c in cursor.description or ()]
    return lambda values: Row(zip(names, values, strict=True))


class Cursor:
    """The result of ``execute``: iterate it, or fetchone/fetchall; driver errors become StoreError."""

    def __init__(self, conn: Connection, raw: Any):
        self._conn, self._raw = conn, raw

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount)

    def fetchone(self) -> Any:
        with self._conn.mapped_errors():
            return self._raw.fetchone()

    def fetchall(self) -> list[Any]:
        with self._conn.mapped_errors():
            return list(self._raw.fetchall())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Connection:
    """One connection to the state store. ``dialect`` is "sqlite" or "postgresql"."""

    def __init__(self, raw: Any, url: StateURL):
        self.raw, self.url = raw, url
        self.dialect = url.backend
        self._depth = 0
        self._mutex = threading.RLock()  # psycopg allows threads; keep one statement at a time

    # -- statements ---------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        with self._mutex, self.mapped_errors():
            if self.dialect == "postgresql":
                return Cursor(self, self.raw.execute(_pg_sql(sql), tuple(params or ())))
            return Cursor(self, self.raw.execute(sql, tuple(params or ())))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; on SQLite it takes the write lock at once (BEGIN IMMEDIATE) so two
        writers queue instead of failing half-way. Nested use joins the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            try:
                self.execute("ROLLBACK")
            except StoreError:
                pass  # the connection itself is gone; the server rolled back for us
            raise
        self._depth = 0
        self.execute("COMMIT")

    def commit(self) -> None:
        """Statements commit as they run (autocommit); kept for callers written for sqlite3."""

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not raise
            pass

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- errors -------------------------------------------------------------------------------
    @contextmanager
    def mapped_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(explain_sqlite(self.url, exc)) from exc
        except Exception as exc:
            if _is_psycopg_error(exc):
                raise StoreError(f"the state server {self.url.display()} refused: "
                                 f"{str(exc).strip()}") from exc
            raise


def _is_psycopg_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("psycopg")


_PG_PARAM = re.compile(r"\?")


def _pg_sql(sql: str, _cache: dict[str, str] = {}) -> str:  # noqa: B006 - a deliberate memo
    """``?`` placeholders to psycopg's ``%s`` (a literal % doubled). Our SQL has no '?' in strings."""
    found = _cache.get(sql)
    if found is None:
        found = _cache[sql] = _PG_PARAM.sub("%s", sql.replace("%", "%%"))
    return found


def explain_sqlite(url: StateURL, exc: sqlite3.Error) -> str:
    """One sentence for a SQLite failure, naming the file and what to do."""
    text = str(exc)
    where = url.path
    unwritable = where is not None and where.exists() and not (
        os.access(where, os.W_OK) and os.access(where.parent, os.W_OK))
    if "readonly" in text or "read-only" in text or (unwritable and "unable to open" in text):
        return (f"the state store {where} is read-only ({text}); bakery must write it: check the "
                f"permissions of the file and of {where.parent if where else 'its folder'}")
    if isinstance(exc, sqlite3.DatabaseError) and (
            "malformed" in text or "not a database" in text or "corrupt" in text):
        return f"the state store {where} is damaged ({text}); {_CHECK_HINT}"
    if "locked" in text or "busy" in text:
        return f"the state store {where} stayed locked by another bakery for 30s ({text}); try again"
    if "unable to open" in text:
        return f"cannot open the state store {where} ({text}): check that its folder is writable"
    return f"the state store {where} failed: {text}; {_CHECK_HINT}"


# -- opening ------------------------------------------------------------------------------------
def connect(target: Path | str | StateURL) -> Connection:
    """Open the store and bring its schema up to date.

    ``target`` is a Path to a SQLite file (what callers pass as ``project.db_path``), a state URL
    string (``sqlite:...``, ``postgresql://...``) or a parsed StateURL."""
    url = as_state_url(target)
    conn = _open_postgresql(url) if url.is_postgresql else _open_sqlite(url)
    try:
        upgrade(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def open_store(project: Project) -> Connection:
    """The project's store, wherever its state URL points (BAKERY_STATE, bakery.yaml, default)."""
    return connect(state_url(project))


def _sqlite_raw(path: Path) -> sqlite3.Connection:
    raw = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    raw.row_factory = sqlite3.Row
    return raw


def refuse_lost_store(path: Path) -> None:
    """Raise when a store once initialised here is missing or empty now (never re-create it)."""
    marker = marker_path(path)
    size = path.stat().st_size if path.exists() else None
    if size == 0:
        raise StoreError(
            f"the state store {path} is empty (0 bytes): its history, verification records and "
            f"locks are gone. Restore it from a backup, or move it and {marker.name} aside to start "
            f"an empty store on purpose; {_CHECK_HINT}")
    if size is None and marker.exists():
        raise StoreError(
            f"the state store {path} is missing although it was initialised here ({marker}): "
            "bakery will not silently start an empty one. Restore it from a backup, or delete the "
            f"marker to start afresh on purpose; {_CHECK_HINT}")


def _create_sqlite(path: Path) -> None:
    """Build a new store aside and link it into place, so nobody ever sees a half-made file;
    when another process won the race, its store is used."""
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    raw = _sqlite_raw(tmp)
    try:
        _apply(Connection(raw, StateURL("sqlite", path=tmp)), 0)
    finally:
        raw.close()
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:
        # A filesystem without hard links: a rename, which may replace a store another process
        # made in the same instant (both are empty and new, so nothing is lost).
        if not path.exists():
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_marker(path: Path) -> None:
    marker = marker_path(path)
    if marker.exists():
        return
    try:
        marker.write_text(json.dumps({"store": str(path), "initialised": datetime.now(UTC).isoformat()})
                          + "\n")
    except OSError:
        pass  # a read-only folder: the store still opens; the marker follows on a writable run


def _open_sqlite(url: StateURL) -> Connection:
    path = url.path
    assert path is not None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        refuse_lost_store(path)
        if not path.exists():
            _create_sqlite(path)
        raw = _sqlite_raw(path)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the state store {path}: {exc}") from exc
    conn = Connection(raw, url)
    try:
        # WAL lets readers run beside the one writer; on a read-only file it may be refused,
        # which surfaces at the first write with a clear message instead.
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except StoreError as exc:
            if "read-only" not in str(exc):
                raise
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
    except BaseException:
        conn.close()
        raise
    _write_marker(path)
    return conn


def _open_postgresql(url: StateURL) -> Connection:
    # Imported only when a postgresql:// URL is used: SQLite users need no driver at all.
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError("a postgresql:// state URL needs the psycopg package "
                         "(pip install 'psycopg[binary]')") from exc
    try:
        raw = psycopg.connect(url.dsn or "", autocommit=True, row_factory=_pg_rows,
                              connect_timeout=10, application_name="bakery")
    except psycopg.Error as exc:
        raise StoreError(f"cannot reach the state server {url.display()}: {str(exc).strip()}") from exc
    return Connection(raw, url)


# -- schema -------------------------------------------------------------------------------------
def _has_table(conn: Connection, name: str) -> bool:
    if conn.dialect == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() " \
              "AND table_name = ?"
    return conn.execute(sql, (name,)).fetchone() is not None


def schema_version(conn: Connection) -> int:
    """The highest migration recorded in this store (0 for an empty or pre-migration store)."""
    if not _has_table(conn, "schema_migrations"):
        return 0
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])


def _refuse_newer(conn: Connection, version: int) -> None:
    if version > migrations.LATEST:
        raise StoreError(
            f"the state store {conn.url.display()} has schema version {version}, newer than this "
            f"bakery knows (up to {migrations.LATEST}): a newer bakery wrote it; upgrade bakery "
            "instead of letting an older one write to it")


def upgrade(conn: Connection) -> int:
    """Apply the migrations this store lacks; returns its schema version."""
    version = schema_version(conn)
    _refuse_newer(conn, version)
    if version == migrations.LATEST:
        return version
    return _apply(conn, version)


_MIGRATION_LOCK = 0x62616B6572790001  # "bakery" + 1: serialises migrating processes on PostgreSQL


def _apply(conn: Connection, seen: int) -> int:
    with conn.transaction():
        if conn.dialect == "postgresql":
            conn.execute("SELECT pg_advisory_xact_lock(?::bigint)", (_MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied TEXT NOT NULL)")
        version = schema_version(conn)  # another process may have migrated meanwhile
        _refuse_newer(conn, version)
        for migration in migrations.MIGRATIONS:
            if migration.version <= version:
                continue
            for statement in migration.statements(conn.dialect):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, name, applied) VALUES (?,?,?)",
                         (migration.version, migration.name, datetime.now(UTC).isoformat()))
    return max(seen, migrations.LATEST)

