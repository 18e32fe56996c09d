"""The pytest child: its arguments, the session-limit message, a broken top-level conftest,
and the parent-death signal (issue 12, items 12-14)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakery.verify.plugin import timeout_message
from bakery.verify.session import broken_conftest, overrun_message, pytest_args


def test_args_keep_going_past_broken_files_and_limit_each_test(tmp_path):
    args = pytest_args(tmp_path / "pytest.ini", tmp_path, tmp_path / "tests", test_timeout=7)
    assert "--continue-on-collection-errors" in args
    assert "--timeout=7" in args and "--timeout-method=signal" in args
    assert args[-1] == str(tmp_path / "tests")


def test_overrun_names_the_hung_test_and_those_that_never_ran():
    collected = ["port_listening[80]", "tests/test_a.py::test_one", "tests/test_a.py::test_two",
                 "tests/test_b.py::test_three"]
    hung, never, message = overrun_message(30, collected, collected[:2], {"port_listening[80]"})
    assert hung == ["tests/test_a.py::test_one"]
    assert never == ["tests/test_a.py::test_two", "tests/test_b.py::test_three"]
    assert message == ("the checks did not finish within 30s (BAKERY_VERIFY_TIMEOUT); still running: "
                       "tests/test_a.py::test_one; never ran (2): tests/test_a.py::test_two, "
                       "tests/test_b.py::test_three")


def test_timeout_message_names_the_check():
    assert timeout_message("t::x", "Timeout (>3.0s) from pytest-timeout.", 3.0).startswith(
        "t::x hung: no result within 3s (the per-test limit")
    assert timeout_message("t::x", "assert 1 == 2", 3.0) == "assert 1 == 2"


def test_broken_conftest_is_read_from_pytests_output(tmp_path):
    log = (f"ImportError while loading conftest '{tmp_path}/tests/conftest.py'.\n"
           "tests/conftest.py:1: in <module>\n    import nope\n"
           "E   ModuleNotFoundError: No module named 'nope'\n")
    assert broken_conftest(log, tmp_path) == (
        "tests/conftest.py", "ModuleNotFoundError: No module named 'nope'")
    assert broken_conftest("1 passed", tmp_path) is None


def test_the_child_dies_with_its_parent(tmp_path):
    """A middle process starts a sleeper with die_with_parent, then is killed with SIGKILL."""
    pid_file = tmp_path / "sleeper.pid"
    middle = subprocess.Popen([sys.executable, "-c", (
        "import os, subprocess, sys, time\n"
        "from bakery.verify.session import die_with_parent\n"
        "p = subprocess.Popen(['sleep', '600'], preexec_fn=die_with_parent(os.getpid()))\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n")])
    try:
        while not (pid_file.exists() and pid_file.read_text()):
            assert middle.poll() is None
            time.sleep(0.05)
        sleeper = int(pid_file.read_text())
        assert _alive(sleeper)
        os.kill(middle.pid, signal.SIGKILL)
        middle.wait()
        for _ in range(200):
            if not _alive(sleeper):
                break
            time.sleep(0.05)
        assert not _alive(sleeper)
    finally:
        if middle.poll() is None:
            middle.kill()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_cut_session_reports_the_hung_check_and_the_rest():
    """The glue around overrun_message: events from the child, then the cut."""
    from bakery.verify.session import _Feed, _overrun

    feed, shown = _Feed(), []
    feed.take('{"event": "collected", "names": ["main_process", "tests/t.py::a", "tests/t.py::b"]}',
              shown.append)
    feed.take('{"event": "start", "name": "main_process"}', shown.append)
    feed.take('{"name": "main_process", "passed": true, "duration": 0.1}', shown.append)
    feed.take('{"event": "start", "name": "tests/t.py::a"}', shown.append)
    _overrun(feed, 5, 5.2, shown.append)
    assert [(r.name, r.outcome, r.group) for r in feed.results] == [
        ("main_process", "passed", "builtin"), ("tests/t.py::a", "error", "tests"),
        ("checks finished in time", "error", "setup")]
    assert "still running: tests/t.py::a; never ran (1): tests/t.py::b" in feed.results[-1].message
    assert shown == feed.results


def test_filesystem_checks_run_last_and_keep_their_order() -> None:
    """The checks on the one filesystem scan go to the end, so the scan runs beside the others."""
    from types import SimpleNamespace

    from bakery.verify.plugin import pytest_collection_modifyitems

    def item(name: str, *fixtures: str) -> SimpleNamespace:
        return SimpleNamespace(name=name, fixturenames=list(fixtures))

    items = [item("healthcheck_status"), item("no_private_keys", "filesystem_findings"),
             item("no_credential_files", "filesystem_findings"), item("main_process", "host"),
             item("tests/test_web.py::test_page")]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [i.name for i in items] == ["healthcheck_status", "main_process",
                                       "tests/test_web.py::test_page", "no_private_keys",
                                       "no_credential_files"]


def test_the_throwaway_probes_health_faster_over_the_same_window() -> None:
    from bakery.verify.container import START_INTERVAL, start_paced_healthcheck

    paced = start_paced_healthcheck({"interval": 1.0, "timeout": 2.0, "retries": 3})
    assert paced == {"interval": int(START_INTERVAL * 1e9), "retries": 12}
    assert "test" not in paced  # the image's own test, inherited by the engine
    assert start_paced_healthcheck(None) is None
    assert start_paced_healthcheck({"interval": 0.2, "retries": 3}) is None


def test_the_scan_result_travels_to_the_child_whole(tmp_path, monkeypatch) -> None:
    """bakery's process writes the filesystem scan (or its error) in one rename; the child's
    checks read the same findings back."""
    from bakery.verify import fsscan
    from bakery.verify.secretscan import Finding

    found = [Finding("private key", "/etc/ssl/private/x.key"),
             Finding("secret value", "/srv/a", "value of T")]
    monkeypatch.setattr(fsscan, "scan", lambda cid, secrets, dests: (["/etc", "/srv"], found))
    path = tmp_path / "scan.json"
    fsscan.write_result(path, "c1", {"T": "v"}, [])
    assert fsscan.read_result(path) == (["/etc", "/srv"], found)
    assert not list(tmp_path.glob("*.part"))

    def broken(cid, secrets, dests):
        raise OSError("engine went away")

    monkeypatch.setattr(fsscan, "scan", broken)
    fsscan.write_result(path, "c1", {}, [])
    with pytest.raises(RuntimeError, match="engine went away"):
        fsscan.read_result(path)
