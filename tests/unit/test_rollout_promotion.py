"""Promotion by evidence (issue 14): production with `requires: {succeeded_in: [staging]}`
refuses a fingerprint never rolled out successfully to staging, naming it, before any change;
`--force --reason` overrides, and who and why show in history. Through the real service and
store with the fake runtime and balancer of test_rollout_service."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.errors import DefinitionError, RolloutError, UsageError
from bakery.project import Project
from bakery.rollout import service
from tests.fakes import FakeBalancer, FakeLock, FakeRuntime
from tests.unit.test_rollout_service import World, _release


@pytest.fixture
def world(project_copy: Path) -> World:
    """The fake world of test_rollout_service: web 1.0.0 and 1.1.0 built and verified."""
    project = Project(project_copy)
    for version in ("1.0.0", "1.1.0"):
        _release(project, version, f"img-web-{version}")
    runtime = FakeRuntime()
    return World(project, runtime, FakeBalancer(runtime), FakeLock(), [])


def require_staging(w: World) -> None:
    path = w.project.rollouts_dir / "production" / "web.yaml"
    path.write_text(path.read_text() + "requires: {succeeded_in: [staging]}\n")


def to_production(w: World, version: str, force_reason: str | None = None) -> service.Outcome:
    return service.rollout(w.project, "production", "web", image=version, on_event=w.sink, ports=w.ports(),
                           force_reason=force_reason)


def test_production_refuses_a_fingerprint_never_rolled_out_to_staging_then_accepts_it_after(world):
    require_staging(world)
    with pytest.raises(RolloutError, match=r"production requires a successful rollout in staging first: "
                                           r"web 1\.0\.0 \(fp-100100100100\) has no successful rollout"):
        to_production(world, "1.0.0")
    with pytest.raises(RolloutError, match="requires a successful rollout in staging"):
        service.plan_rollout(world.project, "production", "web", "1.0.0", ports=world.ports())
    assert world.runtime.calls == [] and world.lb.commands == []
    assert world.rollout("1.0.0").status == "succeeded"  # staging first
    assert to_production(world, "1.0.0").status == "succeeded"
    assert service.history(world.project, "production")[0].override is None


def test_force_with_a_reason_overrides_and_history_says_who_and_why(world, monkeypatch):
    require_staging(world)
    monkeypatch.setenv("BAKERY_ACTOR", "alice")
    with pytest.raises(UsageError, match="--force needs --reason"):
        to_production(world, "1.0.0", force_reason=" ")
    plan = service.plan_rollout(world.project, "production", "web", "1.0.0", ports=world.ports(),
                                force_reason="hotfix")
    assert plan.notes[0].startswith("--force overrides: web 1.0.0")
    outcome = to_production(world, "1.0.0", force_reason="CVE hotfix, staging is down")
    assert outcome.status == "succeeded"
    past = service.history(world.project, "production")[0]
    assert past.row.id == outcome.rollout_id
    assert past.override["who"] == "alice" and past.override["reason"] == "CVE hotfix, staging is down"
    assert "no successful rollout in staging" in past.override["requirement"]
    shown = CliRunner().invoke(main, ["--project", str(world.project.root), "history", "--env", "production"])
    assert shown.exit_code == 0, shown.output
    assert "forced by alice: CVE hotfix, staging is down" in shown.output


def test_the_cli_wants_a_reason_with_force_and_force_with_a_reason(world):
    root = str(world.project.root)
    for args in (["--force"], ["--reason", "why"], ["--force", "--reason", ""]):
        out = CliRunner().invoke(main, ["--project", root, "rollout", "web", "--env", "staging", *args])
        assert out.exit_code == 2, out.output


@pytest.mark.parametrize(("value", "message"), [
    ("[production]", "requires.succeeded_in[0]: names this environment itself"),
    ("[nowhere]", "requires.succeeded_in[0]: no environment 'nowhere'"),
    ("staging", "requires.succeeded_in: should be a list"),
])
def test_a_bad_succeeded_in_names_file_line_and_key(world, value, message):
    path = world.project.rollouts_dir / "production" / "web.yaml"
    path.write_text(path.read_text() + f"requires:\n  succeeded_in: {value}\n")
    pattern = r"rollouts/production/web\.yaml:\d+: " + message.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(DefinitionError, match=pattern):
        world.project.load_rollout("production", "web")
