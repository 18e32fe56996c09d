"""Who owns a verification's leftovers, and which of them a later run removes (issue 12, 14)."""

from __future__ import annotations

import os
import socket

from bakery.verify import reaper
from bakery.verify.reaper import OWNER_FILE, TEMP_PREFIX, owner_dead, owner_token, process_start


def test_owner_token_is_host_pid_and_start_time():
    host, pid, start = owner_token().rsplit(":", 2)
    assert host == socket.gethostname() and int(pid) == os.getpid()
    assert start == process_start(os.getpid()) and start.isdigit()


def test_only_dead_owners_on_this_host_are_reaped():
    starts = {10: "500", 11: "900"}
    start_of = starts.get
    assert owner_dead("h:12:100", "h", start_of)  # no such process
    assert owner_dead("h:10:499", "h", start_of)  # the pid was recycled by a newer process
    assert not owner_dead("h:10:500", "h", start_of)  # still running
    assert not owner_dead("other:12:100", "h", start_of)  # another host's run
    assert not owner_dead("garbage", "h", start_of)
    assert not owner_dead("h:x:1", "h", start_of)


def test_temp_folders_of_dead_runs_are_removed(tmp_path):
    host = socket.gethostname()
    dead = tmp_path / f"{TEMP_PREFIX}dead"
    live = tmp_path / f"{TEMP_PREFIX}live"
    foreign = tmp_path / f"{TEMP_PREFIX}unmarked"
    for folder in (dead, live, foreign):
        folder.mkdir()
    (dead / OWNER_FILE).write_text(f"{host}:{2**22 + 12345}:1")  # beyond pid_max: never alive
    (live / OWNER_FILE).write_text(owner_token())
    assert reaper.reap_folders(tmp_path) == [str(dead)]
    assert not dead.exists() and live.exists() and foreign.exists()


class FakeApi:
    def __init__(self, containers, networks):
        self._containers, self._networks = containers, networks
        self.removed: list[str] = []

    def containers(self, all, filters):  # noqa: A002 - docker's keyword
        return self._containers

    def networks(self, filters):
        return self._networks

    def remove_container(self, cid, force, v):
        self.removed.append(cid)

    def remove_network(self, nid):
        self.removed.append(nid)


class FakeClient:
    def __init__(self, api):
        self.api = api


def test_reap_removes_dead_runs_containers_then_networks(tmp_path):
    host = socket.gethostname()
    dead = {reaper.OWNER_LABEL: f"{host}:{2**22 + 12345}:1"}
    live = {reaper.OWNER_LABEL: owner_token()}
    api = FakeApi([{"Id": "c1", "Names": ["/bakery-verify-web-1"], "Labels": dead},
                   {"Id": "c2", "Names": ["/bakery-verify-web-2"], "Labels": live}],
                  [{"Id": "n1", "Name": "bakery-verify-1", "Labels": dead},
                   {"Id": "n2", "Name": "bakery-verify-2", "Labels": live}])
    reaped = reaper.reap(FakeClient(api), tmp_path)
    assert api.removed == ["c1", "n1"]
    assert reaped.containers == ["bakery-verify-web-1"] and reaped.networks == ["bakery-verify-1"]
    assert str(reaped) == "removed what a killed verification left: 1 container(s), 1 network(s)"
