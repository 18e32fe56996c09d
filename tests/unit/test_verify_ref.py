"""bakery verify NAME:VERSION: what is not a version is bad input; patch versions are versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main


@pytest.mark.parametrize("ref", ["web:notaversion", "web:1.0.0:x", "web:v1.0.0"])
def test_verify_of_a_non_version_says_so_and_touches_nothing(project_copy: Path, ref: str) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_copy), "verify", ref])
    assert result.exit_code == 2, result.output
    assert "is not a version" in result.output
    assert not (project_copy / ".bakery").exists()


def test_patch_versions_are_versions_for_verify() -> None:
    from bakery.verify.runner import parse_ref

    assert parse_ref("web:1.0.0+patch.2") == ("web", "1.0.0+patch.2")
    assert parse_ref("web:1.0.0_patch.2") == ("web", "1.0.0+patch.2")  # as the Docker tag spells it

