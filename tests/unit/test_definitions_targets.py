"""`targets:` in a rollout definition: hosts over SSH, validated like every definition
(one `file:line: key: message`, exit 2 from `bakery lint`, nothing changed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.project import Project
from tests.definition_support import assert_refused

STAGING = "rollouts/staging/web.yaml"

GOOD = """targets:
  spread: zone
  min_free_disk: 2048
  hosts:
    - name: web-1
      address: 10.0.0.5
      labels: {zone: a}
    - name: web-2
      address: web-2.example.org
      user: deploy
      port: 2222
      key: keys/deploy
      labels: {zone: b}
"""


def _write(root: Path, targets: str) -> None:
    path = root / STAGING
    path.write_text(path.read_text() + targets)


def test_targets_load_as_hosts(project_copy):
    (project_copy / "keys").mkdir()
    (project_copy / "keys" / "deploy").write_text("not read at load time\n")
    _write(project_copy, GOOD)
    defn = Project(project_copy).load_rollout("staging", "web")
    t = defn.targets
    assert t is not None and t.spread == "zone" and t.min_free_disk_mib == 2048 and t.network is None
    one, two = t.hosts
    assert (one.name, one.address, one.user, one.port, one.key, one.labels) == (
        "web-1", "10.0.0.5", "root", 22, None, {"zone": "a"})
    assert (two.user, two.port, two.key) == ("deploy", 2222, project_copy / "keys" / "deploy")


def test_no_targets_is_the_local_engine(project_copy):
    assert Project(project_copy).load_rollout("staging", "web").targets is None


CASES = [
    ("unknown-key", "targets:\n  hosts:\n    - name: a\n      adress: 10.0.0.1\n",
     "rollouts/staging/web.yaml:34: targets.hosts[0].adress: unknown key (did you mean 'address'?); "
     "known keys: name, address, user, port, key, labels"),
    ("missing-address", "targets:\n  hosts:\n    - name: a\n",
     "rollouts/staging/web.yaml:33: targets.hosts[0]: missing required key 'address'"),
    ("bad-port", "targets:\n  hosts:\n    - {name: a, address: 10.0.0.1, port: 70000}\n",
     "rollouts/staging/web.yaml:33: targets.hosts[0].port: must be 1..65535"),
    ("no-hosts", "targets:\n  hosts: []\n",
     "rollouts/staging/web.yaml:32: targets.hosts: needs at least 1 item(s)"),
    ("duplicate-name", "targets:\n  hosts:\n    - {name: a, address: 10.0.0.1}\n"
     "    - {name: a, address: 10.0.0.2}\n",
     "rollouts/staging/web.yaml:34: targets.hosts[1].name: duplicate host name 'a' (also targets.hosts[0])"),
    ("duplicate-address", "targets:\n  hosts:\n    - {name: a, address: 10.0.0.1}\n"
     "    - {name: b, address: 10.0.0.1}\n",
     "rollouts/staging/web.yaml:34: targets.hosts[1].address: 10.0.0.1:22 is already targets.hosts[0]"),
    ("missing-key-file", "targets:\n  hosts:\n    - {name: a, address: 10.0.0.1, key: keys/none}\n",
     "rollouts/staging/web.yaml:33: targets.hosts[0].key: no key file at keys/none"),
    ("bad-label", "targets:\n  hosts:\n    - {name: a, address: 10.0.0.1, labels: {Zone: a}}\n",
     "rollouts/staging/web.yaml:33: targets.hosts[0].labels.Zone: key should be a lowercase label "
     "name like zone"),
    ("bad-host-name", "targets:\n  hosts:\n    - {name: Web_1, address: 10.0.0.1}\n",
     "rollouts/staging/web.yaml:33: targets.hosts[0].name: should be lowercase letters, digits and dashes"),
]


@pytest.mark.parametrize("targets,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_targets_name_file_line_and_key(project_copy, targets, expected):
    assert_refused(project_copy, targets, expected)


def test_schema_describes_targets():
    import json

    result = CliRunner().invoke(main, ["schema", "rollout"])
    schema = json.loads(result.stdout)
    host = schema["properties"]["targets"]["properties"]["hosts"]["items"]
    assert set(host["properties"]) == {"name", "address", "user", "port", "key", "labels"}
    assert host["required"] == ["name", "address"]
