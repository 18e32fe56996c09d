"""The `host` fixture's plumbing in the pytest child: commands through the engine API on one
connection, and host.sudo() through the root connection (issue 13 item 2, issue 12 item 15)."""

from __future__ import annotations

import docker.errors
import pytest
import testinfra

from bakery.verify import plugin


class Cut(tuple):
    """An answer whose output the engine cut short: no end marks on its streams."""


class FakeApi:
    """Answers exec calls like the engine; records (container, argv, user). A command that ran
    whole ends both streams with the plugin's end mark, as the real shell wrapper prints it."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def exec_create(self, container, argv, user, stdout, stderr):
        self.calls.append((container, argv, user))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        self._current = answer
        return {"Id": "e1"}

    def exec_start(self, exec_id, demux):
        out, err = self._current[0], self._current[1]
        if isinstance(self._current, Cut) or self._current[2] == 126:
            return out, err
        return (out or b"") + plugin.END_MARK, (err or b"") + plugin.END_MARK

    def exec_inspect(self, exec_id):
        return {"ExitCode": self._current[2]}


class FakeClient:
    def __init__(self, api):
        self.api = api


@pytest.fixture
def host(monkeypatch):
    def make(answers):
        api = FakeApi(answers)
        monkeypatch.setattr(plugin, "_client", FakeClient(api))
        backend = testinfra.backend.get_backend("docker://www-data@c0ffee")
        host = testinfra.host.Host(backend)
        backend.set_host(host)
        return plugin._sudo_through_root(plugin._over_one_connection(host)), api
    return make


def test_commands_go_through_the_api_as_the_images_user_and_sudo_as_root(host):
    h, api = host([(b"33\n", None, 0), (b"0\n", None, 0), (b"33\n", None, 0), (b"", b"nope\n", 2)])
    assert h.check_output("id -u") == "33"
    with h.sudo():
        assert h.check_output("id -u") == "0"
    assert h.check_output("id -u") == "33"
    result = h.run("ls %s", "/missing dir")
    assert (result.rc, result.stderr) == (2, "nope\n")
    assert [(user, argv[2]) for _, argv, user in api.calls] == [
        ("www-data", plugin.with_end_marks("id -u")), ("root", plugin.with_end_marks("id -u")),
        ("www-data", plugin.with_end_marks("id -u")),
        ("www-data", plugin.with_end_marks("ls '/missing dir'"))]
    assert {container for container, _, _ in api.calls} == {"c0ffee"}


def test_engine_errors_read_like_the_docker_cli(host):
    h, _ = host([docker.errors.APIError("409", explanation="Container c0ffee is not running"),
                 (b"OCI runtime exec failed: exec: \"/bin/sh\": stat /bin/sh: no such file", None, 126)])
    stopped = h.run("true")
    assert stopped.rc == 1 and stopped.stderr == "Error response from daemon: Container c0ffee is not running"
    no_shell = h.run("true")
    assert no_shell.rc == 126 and no_shell.stdout == "" and "stat /bin/sh" in no_shell.stderr


def test_output_the_engine_cut_short_is_read_again(host):
    h, api = host([Cut((b"", None, 0)), Cut((b"sl0: 0A", None, 0)), (b"sl0: 0A 1F90\n", None, 0)])
    assert h.check_output("cat /proc/net/tcp") == "sl0: 0A 1F90"
    assert len(api.calls) == 3


def test_a_command_cut_short_every_time_gives_what_came_after_three_tries(host):
    h, api = host([Cut((b"", None, 0))] * 3)
    assert h.run("cat /proc/net/tcp").stdout == ""
    assert len(api.calls) == plugin.OUTPUT_ATTEMPTS
