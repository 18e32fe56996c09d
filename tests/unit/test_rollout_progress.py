"""The rollout progress sink: output that cannot be written must not stop a rollout halfway."""

import io

import pytest

from bakery.cli import rollout as cli_rollout


class ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_in_json_mode_is_dropped_not_raised(monkeypatch):
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    view = cli_rollout.ProgressView("web@staging", as_json=True)
    view("info", {"text": "starting"})  # `bakery rollout --json | head -1` after the first line
    view("weights", {"green_percent": 10, "colour": "green", "per_server": {"green": 20, "blue": 180}})
    assert view.output_lost


def test_rich_turning_a_broken_pipe_into_system_exit_is_dropped_too(monkeypatch):
    def broken(*args, **kwargs):
        raise SystemExit(1)  # what rich's Console.on_broken_pipe does

    monkeypatch.setattr(cli_rollout.console, "print", broken)
    view = cli_rollout.ProgressView("web@staging", as_json=False)
    view("info", {"text": "starting"})
    view("warn", {"text": "stopping"})
    assert view.output_lost


def test_other_errors_still_surface():
    view = cli_rollout.ProgressView("web@staging", as_json=False)
    with pytest.raises(KeyError):
        view("weights", {})  # a programming error is not an output problem
