"""The lazy command registry: every command is listed, each module registers what it claims,
and production is decided in one place for every command that asks."""

from __future__ import annotations

import importlib

import pytest
from click.testing import CliRunner

from bakery.cli import app, main
from bakery.model.environments import is_production


def test_every_registered_module_provides_exactly_its_commands():
    for module in {m for m, _ in app.COMMANDS.values()}:
        importlib.import_module(module)
    assert set(main.commands) == set(app.COMMANDS)


def test_help_lists_every_command_without_loading_them():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in app.COMMANDS:
        assert f"\n  {name} " in result.output


@pytest.mark.parametrize("env,production", [("production", True), ("prod", True), ("prod-eu", True),
                                            ("PROD", True), ("staging", False), ("product-demo", False)])
def test_production_is_decided_in_one_place(env, production):
    assert is_production(env) is production


def test_rollout_to_prod_asks_like_production(project_copy):
    prod = project_copy / "rollouts" / "prod"
    prod.mkdir()
    text = (project_copy / "rollouts" / "production" / "web.yaml").read_text()
    (prod / "web.yaml").write_text(text.replace("environment: production", "environment: prod"))
    result = CliRunner().invoke(main, ["--project", str(project_copy), "rollout", "web", "--env", "prod"])
    assert result.exit_code == 2 and "--yes" in result.output
    assert not (project_copy / ".bakery").exists()


@pytest.mark.parametrize("args", [["status", "--env", "staging/../staging"],
                                  ["history", "web", "--env", "../x"],
                                  ["history", "we b"]])
def test_names_given_to_read_only_commands_are_checked_at_the_edge(project_copy, args):
    result = CliRunner().invoke(main, ["--project", str(project_copy), *args])
    assert result.exit_code == 2, result.output
    assert not (project_copy / ".bakery").exists()
