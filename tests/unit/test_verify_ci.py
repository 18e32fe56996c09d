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
