"""Shared fixtures. Engine-backed tests use ``docker_engine``: it skips without an
engine, except when BAKERY_REQUIRE_DOCKER=1 (CI), where a missing engine fails."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bakery.project import Project

REPO = Path(__file__).resolve().parent.parent
REQUIRE_DOCKER = os.environ.get("BAKERY_REQUIRE_DOCKER") == "1"


@pytest.fixture(scope="session")
def docker_engine():
    from bakery.engine.client import engine, engine_available

    if not engine_available():
        if REQUIRE_DOCKER:
            pytest.fail("BAKERY_REQUIRE_DOCKER=1 but no Docker engine answers; run scripts/setup.sh")
        pytest.skip("no Docker engine (set BAKERY_REQUIRE_DOCKER=1 to make this a failure)")
    return engine()


@pytest.fixture(scope="session")
def base_image(docker_engine):
    """The local debian:bookworm base (bootstrapped once if missing)."""
    from bakery.engine.base import ensure_base

    return ensure_base("debian:bookworm")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A private copy of the repo's images/ and rollouts/, with its own state folder."""
    root = tmp_path / "project"
    root.mkdir()
    for folder in ("images", "rollouts"):
        shutil.copytree(REPO / folder, root / folder)
    monkeypatch.delenv("BAKERY_STATE_DIR", raising=False)
    monkeypatch.setenv("BAKERY_PROJECT", str(root))
    return Project(root)
