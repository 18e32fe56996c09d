"""Errors reach the user as literal text: user input with rich markup must not break them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bakery.cli import main


def test_bracketed_user_input_is_printed_literally(project_copy: Path) -> None:
    path = project_copy / "rollouts" / "staging" / "web.yaml"
    path.write_text(path.read_text().replace("interval: 500ms", 'interval: "[/x]"'))
    result = CliRunner().invoke(main, ["--project", str(project_copy), "lint"])
    assert result.exit_code == 2
    assert "rollouts/staging/web.yaml:11: health.interval: should be a duration like 500ms, " \
           "5s or 2m, got '[/x]'" in result.output
    assert "Traceback" not in result.output


def test_unknown_image_on_the_command_line_is_a_usage_error(project_copy: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_copy), "build", "nope"])
    assert result.exit_code == 2
    assert ("no image definition named 'nope' (known: aptcache, host, lb, pyapp, registry, web, "
            "web-bad, worker)") in result.output
    assert not (project_copy / ".bakery").exists()
