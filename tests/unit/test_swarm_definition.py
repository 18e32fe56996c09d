"""`targets.swarm` in a rollout definition: the hosts form a Swarm and one of them is its manager;
validated like every definition (one `file:line: key: message`, exit 2 from `bakery lint`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.project import Project
from tests.definition_support import assert_refused

STAGING = "rollouts/staging/web.yaml"
HOSTS = "targets:\n  hosts:\n    - {name: n1, address: 10.0.0.1}\n    - {name: n2, address: 10.0.0.2}\n"


def _write(root: Path, text: str) -> None:
    path = root / STAGING
    path.write_text(path.read_text() + text)


def test_swarm_names_its_manager(project_copy):
    _write(project_copy, HOSTS + "  swarm:\n    manager: n2\n")
    targets = Project(project_copy).load_rollout("staging", "web").targets
    assert targets is not None and targets.swarm is not None and targets.swarm.manager == "n2"


def test_hosts_without_swarm_stay_plain_ssh_hosts(project_copy):
    _write(project_copy, HOSTS)
    targets = Project(project_copy).load_rollout("staging", "web").targets
    assert targets is not None and targets.swarm is None


CASES = [
    ("manager-not-a-host", HOSTS + "  swarm:\n    manager: n3\n",
     "rollouts/staging/web.yaml:36: targets.swarm.manager: 'n3' is not one of targets.hosts (n1, n2)"),
    ("missing-manager", HOSTS + "  swarm: {}\n",
     "rollouts/staging/web.yaml:35: targets.swarm: missing required key 'manager'"),
    ("unknown-key", HOSTS + "  swarm:\n    manager: n1\n    managers: [n1]\n",
     "rollouts/staging/web.yaml:37: targets.swarm.managers: unknown key (did you mean 'manager'?); "
     "known keys: manager"),
    ("wrong-type", HOSTS + "  swarm: n1\n",
     "rollouts/staging/web.yaml:35: targets.swarm: should be a mapping, got a string"),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_swarm_names_file_line_and_key(project_copy, text, expected):
    assert_refused(project_copy, text, expected)


def test_schema_describes_swarm():
    schema = json.loads(CliRunner().invoke(main, ["schema", "rollout"]).stdout)
    swarm = schema["properties"]["targets"]["properties"]["swarm"]
    assert set(swarm["properties"]) == {"manager"} and swarm["required"] == ["manager"]
