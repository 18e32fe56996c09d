"""Fixtures for the state store's tests: every test taking ``store_url`` runs on both backends.

PostgreSQL is a real server: BAKERY_TEST_POSTGRES (a URL to an existing server whose user may
CREATE DATABASE) when set, else a throwaway cluster this session starts (tests/store/pgcluster.py).
Each test gets a schema of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.pgcluster import Cluster, cluster


class _Server:
    """Something that hands out fresh databases: our cluster or a configured server."""

    def __init__(self, admin_url: str, own: Cluster | None):
        self.admin_url, self.own = admin_url, own

    def fresh(self) -> str:
        """A URL whose search_path is a new empty schema: as good as a new database for the
        store, and made in milliseconds instead of a CREATE DATABASE each."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        sep = "&" if "?" in self.admin_url else "?"
        return f"{self.admin_url}{sep}options=-csearch_path%3D{name}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[_Server]:
    if configured := os.environ.get("BAKERY_TEST_POSTGRES"):
        yield _Server(configured, None)
        return
    with cluster() as own:
        yield _Server(own.url(), own)


@pytest.fixture
def pg_url(pg_server: _Server) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return pg_server.fresh()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend, as a state URL."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'state.db'}"
    return request.getfixturevalue("pg_url")
