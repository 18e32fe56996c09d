"""Shared fixtures for the unit tests: a throw-away copy of the example project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path holding copies of the repository's images/ and rollouts/, and nothing else."""
    monkeypatch.delenv("BAKERY_STATE_DIR", raising=False)
    monkeypatch.delenv("BAKERY_PROJECT", raising=False)
    shutil.copytree(REPO / "images", tmp_path / "images")
    shutil.copytree(REPO / "rollouts", tmp_path / "rollouts")
    return tmp_path
