"""Hosts over SSH, the pure parts: placement, facts and verdicts, host ports, the ssh command
line, bakery's key and its known_hosts trust."""

from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import paramiko
import pytest

from bakery.definitions.targets import HostSpec
from bakery.errors import RolloutError
from bakery.hosts.facts import HostFacts, judge, parse
from bakery.hosts.keys import key_path, known_hosts_path, make_key, public_line
from bakery.hosts.placement import place, spread_order
from bakery.hosts.ship import ssh_argv
from bakery.hosts.trust import HostKeyError, RecordFirstContact, RefuseUnknown, fingerprint
from bakery.rollout.adapters.ssh import HOST_PORT_LABEL, pick_port, published_ports


def H(name: str, zone: str | None = None) -> HostSpec:
    return HostSpec(name, f"10.0.0.{name[-1]}", labels={"zone": zone} if zone else {})


def test_replicas_spread_over_zones_first_then_hosts():
    hosts = [H("h1", "a"), H("h2", "a"), H("h3", "b"), H("h4", "c")]
    assert [h.name for h in spread_order(hosts)] == ["h1", "h3", "h4", "h2"]
    placed = place(hosts, 3)
    assert {placed[s].labels["zone"] for s in placed} == {"a", "b", "c"}  # one per zone
    assert len({h.name for h in place(hosts, 4).values()}) == 4  # never two on a host while one is free


def test_more_replicas_than_hosts_wrap_evenly():
    placed = place([H("h1"), H("h2"), H("h3")], 7)
    counts = {n: sum(1 for h in placed.values() if h.name == n) for n in ("h1", "h2", "h3")}
    assert sorted(placed) == list(range(1, 8)) and sorted(counts.values()) == [2, 2, 3]


def test_hosts_that_are_down_are_left_out_and_none_left_fails():
    placed = place([H("h1"), H("h2"), H("h3")], 2, down=frozenset({"h2"}))
    assert [h.name for h in placed.values()] == ["h1", "h3"]
    with pytest.raises(RolloutError, match="no host answers \\(down: h1, h2\\)"):
        place([H("h1"), H("h2")], 2, down=frozenset({"h1", "h2"}))


def test_facts_parse_and_judge():
    text = ("os=Debian GNU/Linux 12 (bookworm)\nkernel=6.1.0\ndocker=20.10.24+dfsg1\n"
            "free_kib=2097152\nclock=1000.5\n")
    facts = parse(H("h1"), text, sent=1000.0, received=1001.0)
    assert (facts.os, facts.docker, facts.free_mib, facts.skew) == (
        "Debian GNU/Linux 12 (bookworm)", "20.10.24+dfsg1", 2048, 0.0)
    assert judge(facts, min_free_mib=1024) == []
    assert judge(facts, min_free_mib=4096) == ["only 2048 MiB free for Docker, needs 4096 MiB"]
    no_engine = parse(H("h1"), text.replace("docker=20.10.24+dfsg1", "docker="), 1000.0, 1001.0)
    assert judge(no_engine, 1024)[0].startswith("no Docker engine answers")
    late = parse(H("h1"), text.replace("clock=1000.5", "clock=1100.5"), 1000.0, 1001.0)
    assert judge(late, 1024) == ["clock is +100.0s off this machine's (more than 30s)"]
    gone = HostFacts("h1", "10.0.0.1", reachable=False, error="h1 is unreachable over SSH: timed out")
    assert judge(gone, 1024) == ["h1 is unreachable over SSH: timed out"]


def test_host_ports_skip_every_port_in_use():
    containers = [SimpleNamespace(labels={HOST_PORT_LABEL: "20000"}, attrs={}),
                  SimpleNamespace(labels={}, attrs={"HostConfig": {"PortBindings": {
                      "80/tcp": [{"HostIp": "", "HostPort": "20001"}], "81/tcp": None}}})]
    used = published_ports(containers)
    assert used == {20000, 20001}
    assert pick_port(used) == 20002
    with pytest.raises(RolloutError, match="no free host port"):
        pick_port({1, 2}, first=1, last=2)


def test_ssh_command_trusts_only_bakerys_files(tmp_path):
    argv = ssh_argv(HostSpec("h1", "10.0.0.1", user="deploy", port=2222), tmp_path, ["docker", "load"])
    assert argv[:3] == ["ssh", "-F", "/dev/null"]
    assert f"UserKnownHostsFile={known_hosts_path(tmp_path)}" in argv
    assert "StrictHostKeyChecking=yes" in argv and "IdentitiesOnly=yes" in argv
    assert argv[argv.index("-i") + 1] == str(key_path(tmp_path))
    assert argv[-5:] == ["deploy", "--", "10.0.0.1", "docker", "load"]


def test_bakerys_key_is_private_kept_and_loads_in_paramiko(tmp_path):
    path, made = make_key(tmp_path, comment="test")
    assert made and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again, made_again = make_key(tmp_path)
    assert again == path and not made_again  # never replaced: hosts trust it
    key = paramiko.Ed25519Key.from_private_key_file(str(path))
    assert public_line(tmp_path).startswith("ssh-ed25519 " + key.get_base64())


def test_first_contact_is_recorded_and_unknown_hosts_refused(tmp_path):
    key = paramiko.Ed25519Key.from_private_key_file(str(make_key(tmp_path)[0]))
    known = known_hosts_path(tmp_path)
    client = paramiko.SSHClient()
    record = RecordFirstContact(known)
    record.missing_host_key(client, "[10.0.0.1]:2222", key)
    assert record.recorded[0].fingerprint == fingerprint(key) and fingerprint(key).startswith("SHA256:")
    saved = paramiko.HostKeys(str(known))
    assert saved.lookup("[10.0.0.1]:2222")["ssh-ed25519"] == key
    with pytest.raises(HostKeyError, match="is not in .*known_hosts; run `bakery hosts check ENV`"):
        RefuseUnknown(known).missing_host_key(client, "10.0.0.9", key)


def test_hosts_key_and_check_from_the_cli(project_copy):
    from click.testing import CliRunner

    from bakery.cli import main

    made = CliRunner().invoke(main, ["--project", str(project_copy), "hosts", "key"])
    assert made.exit_code == 0 and "made " in made.stdout
    assert made.stdout.strip().splitlines()[-1] == public_line(project_copy / ".bakery")
    again = CliRunner().invoke(main, ["--project", str(project_copy), "hosts", "key"])
    assert "using " in again.stdout  # kept, never replaced
    local = CliRunner().invoke(main, ["--project", str(project_copy), "hosts", "check", "staging"])
    assert local.exit_code == 2 and "no service in staging names hosts" in local.stderr
    missing = CliRunner().invoke(main, ["--project", str(project_copy), "hosts", "check", "nowhere"])
    assert missing.exit_code == 2 and "no rollout definitions under rollouts/nowhere/" in missing.stderr


def test_registry_reachability_is_probed_and_judged():
    from bakery.hosts.facts import facts_script

    script = facts_script(["registry.test:5443"])
    assert "exec 3<>/dev/tcp/registry.test/5443" in script and "registry registry.test:5443=" in script
    assert facts_script([]).strip().endswith('echo "clock=$(date +%s.%N)"')
    with pytest.raises(ValueError):
        facts_script(["reg;rm -rf /:5000"])
    base = "os=Debian\ndocker=20.10.24\nfree_kib=2048000\n"
    ok = parse(H("h1"), base + "registry registry.test:5443=ok\n", 0.0, 0.0)
    assert ok.registries == {"registry.test:5443": "ok"} and judge(ok, 100) == []
    down = parse(H("h1"), base + "registry registry.test:5443=unreachable\n", 0.0, 0.0)
    assert ["cannot reach the registry registry.test:5443" in p for p in judge(down, 100)] == [True]
