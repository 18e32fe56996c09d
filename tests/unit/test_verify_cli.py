"""`bakery verify` / `bakery ci` options, without an engine."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bakery.cli import main


def test_timeout_must_be_a_positive_number(project_copy: Path) -> None:
    for command in (["verify", "web"], ["ci"]):
        result = CliRunner().invoke(main, ["--project", str(project_copy), *command, "--timeout", "0"])
        assert result.exit_code == 2, result.output
        assert "--timeout" in result.output
        assert not (project_copy / ".bakery").exists()


def test_help_names_the_per_check_timeout() -> None:
    result = CliRunner().invoke(main, ["verify", "--help"])
    assert result.exit_code == 0
    assert "--timeout SECONDS" in result.output and "BAKERY_VERIFY_TIMEOUT" in result.output
