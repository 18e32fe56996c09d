"""`notify:` in a rollout definition: targets, events and timeout, and the usual one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.errors import DefinitionError
from bakery.project import Project

STAGING = "rollouts/staging/web.yaml"


def with_notify(root: Path, block: str) -> Project:
    path = root / STAGING
    path.write_text(path.read_text() + "notify:\n" + block)
    return Project(root)


def test_notify_targets_events_and_timeout(project_copy: Path) -> None:
    project = with_notify(project_copy, "  urls: [json://127.0.0.1:9000/hook]\n  url_secrets: [SLACK_URL]\n"
                                        "  events: [failure, rollback]\n  timeout: 2s\n")
    spec = project.load_rollout("staging", "web").notify
    assert spec.urls == ("json://127.0.0.1:9000/hook",) and spec.url_secrets == ("SLACK_URL",)
    assert spec.events == ("failure", "rollback") and spec.timeout == 2.0


def test_no_notify_means_no_targets(project_copy: Path) -> None:
    spec = Project(project_copy).load_rollout("staging", "web").notify
    assert spec.urls == () and spec.url_secrets == () and "failure" in spec.events


@pytest.mark.parametrize(("block", "message"), [
    ("  url: [json://h/x]\n", "notify.url: unknown key (did you mean 'urls'?)"),
    ("  urls: [hooks.example.com/x]\n", "notify.urls[0]: should be an apprise URL like json://host:port/path"),
    ("  urls: ['json://bakery:hunter2@hooks.example.com/x']\n",
     "notify.urls[0]: value looks like a credential; put the URL in a secret and name it in "
     "notify.url_secrets"),
    ("  events: [started]\n",
     "notify.events[0]: should be one of start, verdict, rollback, success, failure"),
    ("  timeout: 10m\n", "notify.timeout: "),
])
def test_bad_notify_is_one_clear_error(project_copy: Path, block: str, message: str) -> None:
    project = with_notify(project_copy, block)
    with pytest.raises(DefinitionError) as info:
        project.load_rollout("staging", "web")
    assert str(info.value).startswith(f"{STAGING}:"), str(info.value)
    assert message in str(info.value)
    assert info.value.line is not None and info.value.line > 25
