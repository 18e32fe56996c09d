"""Finding the project: a --project that names no bakery project is bad input and creates nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main


@pytest.mark.parametrize("command", [["lint"], ["images"], ["ci"], ["diff", "web", "1", "2"]])
def test_project_that_does_not_exist_is_bad_input_and_creates_nothing(tmp_path: Path, command) -> None:
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(main, ["--project", str(missing), *command])
    assert result.exit_code == 2, result.output
    assert "nowhere" in result.output and "no images/ or rollouts/" in result.output
    assert not missing.exists()


def test_project_folder_without_images_or_rollouts_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "images"])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / ".bakery").exists()

