"""`bakery patch` refuses bad requests before touching the engine or the store."""

from __future__ import annotations

from click.testing import CliRunner

from bakery.cli import main
from bakery.project import Project


def invoke(*args: str):
    return CliRunner().invoke(main, ["patch", *args])


def test_needs_names_or_all(project: Project) -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "name the images to patch, or pass --all" in result.output
    assert invoke("web", "--all").exit_code == 2


def test_unknown_image_is_bad_input(project: Project) -> None:
    result = invoke("nope")
    assert result.exit_code == 2
    assert "no image definition named 'nope'" in result.output
    assert not project.db_path.exists()


def test_production_only_with_yes(project: Project) -> None:
    result = invoke("web", "--rollout", "production")
    assert result.exit_code == 2
    assert "patch touches production only with --yes" in result.output
    assert not project.db_path.exists()


def test_rollout_to_an_unknown_environment(project: Project) -> None:
    result = invoke("web", "--rollout", "qa")
    assert result.exit_code == 2
    assert "no rollout definitions under rollouts/qa/" in result.output


def test_a_second_patch_run_at_the_same_time_is_refused(project: Project) -> None:
    """Two runs would pick the same patch number: the second names the holder and changes nothing."""
    from bakery.patch.runner import PATCH_LOCK
    from bakery.store import builds, locks
    from bakery.store.db import connect

    with locks.Held(project.db_path, PATCH_LOCK, purpose="bakery patch (the first run)"):
        result = invoke("web", "--no-base-refresh")
    assert result.exit_code == 1
    assert "bakery patch (the first run)" in result.output
    assert "Traceback" not in result.output
    conn = connect(project.db_path)
    try:
        assert builds.find(conn, "web") == []
        assert conn.execute("SELECT COUNT(*) FROM patches").fetchone()[0] == 0
    finally:
        conn.close()


def test_rebuild_is_passed_to_the_runner_and_off_by_default(project: Project, monkeypatch) -> None:
    from bakery.cli import patch as patch_cli
    from bakery.patch.runner import PatchRun

    seen: list[bool] = []

    def fake(project, names, **kwargs):
        seen.append(kwargs["rebuild"])
        return PatchRun("run-1")

    monkeypatch.setattr(patch_cli, "run_patch", fake)
    assert invoke("web", "--no-base-refresh").exit_code == 0
    assert invoke("web", "--rebuild").exit_code == 0
    assert seen == [False, True]
    assert "--rebuild" in invoke("--help").output
