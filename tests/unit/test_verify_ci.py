import subprocess

import pytest

from bakery.errors import UsageError
from bakery.project import Project
from bakery.verify import ci


def test_classify_paths():
    images, rollouts = ci.classify(
        ["images/web/files/nginx.conf", "images/web/image.yaml", "images/gone/image.yaml",
         "rollouts/staging/web.yaml", "bakery/cli/app.py", "images/README"], ["lb", "web"])
    assert images == ["web"]
    assert rollouts == ["rollouts/staging/web.yaml"]


def git(root, *args):
    subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args], cwd=root,
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "p"
    for name in ("web", "lb"):
        (root / "images" / name).mkdir(parents=True)
        (root / "images" / name / "image.yaml").write_text(f"name: {name}\n")
    (root / "rollouts" / "staging").mkdir(parents=True)
    (root / "rollouts" / "staging" / "web.yaml").write_text("x: 1\n")
    return Project(root)


def test_no_base_or_no_history_selects_everything(repo):
    assert ci.select(repo, None).names == ["lb", "web"]
    selection = ci.select(repo, "HEAD")
    assert selection.names == ["lb", "web"] and "no git history" in selection.reason


def test_committed_staged_and_untracked_changes_since_base(repo):
    git(repo.root, "init", "-q")
    git(repo.root, "add", ".")
    git(repo.root, "commit", "-qm", "one")
    assert ci.select(repo, "HEAD").names == []
    (repo.root / "rollouts" / "staging" / "web.yaml").write_text("x: 2\n")
    selection = ci.select(repo, "HEAD")
    assert selection.names == [] and selection.changed_rollouts == ["rollouts/staging/web.yaml"]
    (repo.root / "images" / "web" / "files").mkdir()
    (repo.root / "images" / "web" / "files" / "new.conf").write_text("untracked\n")
    assert ci.select(repo, "HEAD").names == ["web"]
    git(repo.root, "add", ".")
    git(repo.root, "commit", "-qm", "two")
    assert ci.select(repo, "HEAD~1").names == ["web"]
    assert ci.select(repo, "HEAD").names == []


def test_unknown_ref_is_a_usage_error(repo):
    git(repo.root, "init", "-q")
    git(repo.root, "add", ".")
    git(repo.root, "commit", "-qm", "one")
    with pytest.raises(UsageError, match="not a commit"):
        ci.select(repo, "no-such-branch")


def test_run_lints_builds_verifies_and_collects_every_failure(project_copy, monkeypatch):
    """ci.run with the build and the verification faked: what it reports and puts in JUnit."""
    import shutil
    from types import SimpleNamespace

    for other in ("host", "aptcache", "pyapp", "worker", "registry"):  # web, web-bad and lb are the subject
        shutil.rmtree(project_copy / "images" / other)

    from bakery.errors import BuildError
    from bakery.verify.model import CheckResult, VerifyReport

    def fake_build(project, defn, on_event=None):
        if defn.name == "web-bad":
            raise BuildError("apt-get failed")
        record = SimpleNamespace(version=defn.version, short_fingerprint="abc", fingerprint="f" * 64)
        return SimpleNamespace(record=record, up_to_date=True, seconds=0.0)

    def fake_verify(project, name, fingerprint=None, test_timeout=None, on_event=None):
        on_event("passed", {"text": "main_process (0.01s)"})
        report = VerifyReport(name, "1.0.0", fingerprint, "ref", "id", "now")
        report.checks = [CheckResult("main_process", name == "web", 0.01,
                                     outcome="passed" if name == "web" else "failed")]
        assert test_timeout == 9
        return report

    monkeypatch.setattr(ci, "build", fake_build)
    monkeypatch.setattr(ci, "verify", fake_verify)
    events, reports = [], []

    def record(kind: str, data: dict) -> None:
        prefix = f"{data['image']}: " if "image" in data else ""
        events.append((kind, prefix + data["text"]))

    outcome = ci.run(Project(project_copy), None, test_timeout=9, on_event=record, on_report=reports.append)
    assert outcome.failed == ["verify lb", "build web-bad"] and not outcome.passed
    assert [s.name for s in outcome.suites] == ["bakery lint", "bakery build", "bakery verify lb:1.0.0",
                                                "bakery verify web:1.0.0"]
    assert [(c.name, c.outcome) for c in outcome.suites[1].cases] == [
        ("lb", "passed"), ("web", "passed"), ("web-bad", "error")]
    assert ("build-failed", "web-bad: apt-get failed") in events
    assert ("passed", "web: main_process (0.01s)") in events
    assert events[0][0] == "lint-passed" and ("selection", "all images (no --base given): lb, web, "
                                                           "web-bad") in events
    assert [r.name for r in reports] == ["lb", "web"]
