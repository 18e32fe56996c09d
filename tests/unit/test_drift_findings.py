"""The drift comparison (bakery/drift/findings.py and facts.py), as data: every rule is a
function of plain values, so each case here is what the engine would have said."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bakery.drift import facts as f
from bakery.drift import findings
from bakery.drift.findings import Finding, MemberReport

HEALTH = ("CMD", "/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && head -n1 <&3")
IMAGE = f.ImageFacts(
    image_id="sha256:aaa", cmd=("nginx", "-g", "daemon off;"), entrypoint=None,
    env_names=frozenset({"PATH", "WEB_GREETING"}), user="www-data",
    labels={"org.opencontainers.image.title": "web", "io.bakery.fingerprint": "fp"},
    volumes=(), healthcheck=HEALTH)
EXPECTED = f.Expected(IMAGE, "f" * 64, True, secrets=frozenset({"API_TOKEN"}),
                      writable=f.writable_paths(("/var/www/uploads",), ["nginx-light"]),
                      programs=("nginx",))
INIT = f.Proc(1, 0, "nginx", ("nginx: master process nginx -g daemon off;",))
WORKER = f.Proc(7, 1, "nginx", ("nginx: worker process",))


def clean(**changes) -> f.MemberFacts:
    seen = f.MemberFacts(
        name="bakery-x-blue1", status="running", image_id="sha256:aaa",
        labels={"org.opencontainers.image.title": "web", "io.bakery.fingerprint": "fp",
                "io.bakery.slot": "1"},
        cmd=("nginx", "-g", "daemon off;"), entrypoint=None,
        env_names=frozenset({"PATH", "WEB_GREETING", "API_TOKEN"}), user="www-data", restart_policy="no",
        processes=(INIT, WORKER), reader_pid=40)
    for key, value in changes.items():
        setattr(seen, key, value)
    return seen


def subjects(found: list[Finding]) -> list[tuple[str, str]]:
    return [(x.kind, x.subject) for x in found]


def test_a_member_as_its_rollout_left_it_is_clean() -> None:
    assert findings.compare(EXPECTED, clean()) == []


@pytest.mark.parametrize(("changes", "expected"), [
    ({"image_id": "sha256:bbb"}, [("image", "id")]),
    ({"cmd": ("sleep", "600")}, [("config", "command")]),
    ({"entrypoint": ("/bin/sh",)}, [("config", "entrypoint")]),
    ({"env_names": frozenset({"PATH", "WEB_GREETING", "API_TOKEN", "DEBUG"})}, [("config", "env")]),
    ({"env_names": frozenset({"PATH"})}, [("config", "env")]),
    ({"user": "root"}, [("config", "user")]),
    ({"mounts": ("/etc/nginx",)}, [("config", "mounts")]),
    ({"published": ("8080/tcp->8080",)}, [("config", "ports")]),
    ({"restart_policy": "always"}, [("config", "restart")]),
    ({"labels": {"io.bakery.fingerprint": "fp"}}, [("config", "label org.opencontainers.image.title")]),
    ({"labels": {"org.opencontainers.image.title": "web", "io.bakery.fingerprint": "fp", "x": "1"}},
     [("config", "labels")]),
    ({"status": "exited", "processes": None}, [("state", "status")]),
    ({"status": "missing"}, [("state", "member")]),
])
def test_each_config_difference_is_one_named_finding(changes: dict, expected: list) -> None:
    assert subjects(findings.compare(EXPECTED, clean(**changes))) == expected


def test_a_standby_member_may_be_stopped() -> None:
    standby = replace(EXPECTED, must_run=False)
    assert findings.compare(standby, clean(status="exited", processes=None)) == []


def test_an_image_the_store_never_built_or_never_verified() -> None:
    unknown = replace(EXPECTED, image=None)
    assert subjects(findings.compare(unknown, clean())) == [("image", "fingerprint")]
    unverified = replace(EXPECTED, verified=False)
    assert subjects(findings.compare(unverified, clean())) == [("image", "verification")]


def test_published_ports_the_runtime_publishes_are_expected() -> None:
    on_host = replace(EXPECTED, published=("8080/tcp->20001",))
    assert findings.compare(on_host, clean(published=("8080/tcp->20001",))) == []
    assert subjects(findings.compare(on_host, clean(published=("8080/tcp->20001", "22/tcp->2222")))) == [
        ("config", "ports")]


def test_file_changes_outside_the_writable_paths_are_named_with_their_content_verdict() -> None:
    changes = (
        ("/etc", 0), ("/etc/nginx", 0), ("/etc/nginx/evil.conf", 1),
        ("/var", 0), ("/var/www", 0), ("/var/www/html", 0), ("/var/www/html/index.html", 0),
        ("/etc/nginx/mime.types", 0), ("/usr/bin/curl", 2),
        ("/tmp", 0), ("/tmp/scratch", 1), ("/var/log", 0), ("/var/log/nginx/access.log", 0),
        ("/run/nginx", 0), ("/run/nginx/nginx.pid", 1), ("/var/lib/nginx/body/0001", 1),
        ("/var/lib/nginx-light/x", 1), ("/var/www/uploads/a.png", 1), ("/var/cache/x", 1),
    )
    seen = clean(changes=changes, content_differs={"/var/www/html/index.html": True,
                                                   "/etc/nginx/mime.types": False})
    got = {x.subject: x.detail for x in findings.compare(EXPECTED, seen)}
    assert got == {
        "/etc/nginx/evil.conf": "added (the image has no such file)",
        "/var/www/html/index.html": "changed: content differs from the image's copy",
        "/etc/nginx/mime.types": "changed: same content as the image's copy (metadata only)",
        "/usr/bin/curl": "deleted (the image has it)",
    }
    # the reader compares the content of exactly the changed (not added, not deleted) files
    assert [p for p, k in findings.outside_writable(EXPECTED, seen) if k == f.MODIFIED] == [
        "/etc/nginx/mime.types", "/var/www/html/index.html"]


def test_writable_roots_match_whole_path_components() -> None:
    assert f.under("/tmp", ("/tmp",)) and f.under("/tmp/a/b", ("/tmp",))
    assert not f.under("/tmpfoo", ("/tmp",))
    assert not f.under("/var/lib/nginxx/a", f.writable_paths((), ["nginx-light"]))
    assert f.writable_paths((), ["nginx-light"])[:6] == f.DEFAULT_WRITABLE


def test_a_changed_file_whose_content_was_not_compared_says_so() -> None:
    seen = clean(changes=(("/etc/passwd", 0),))
    assert [x.detail for x in findings.compare(EXPECTED, seen)] == ["changed (content not compared)"]


def test_processes_outside_pid_1s_tree_are_foreign_except_the_reader_and_the_healthcheck() -> None:
    shell = f.Proc(50, 0, "bash", ("bash",))
    child = f.Proc(51, 50, "vi", ("vi", "/etc/nginx/nginx.conf"))
    reader = f.Proc(40, 0, "sh", ("/bin/sh", "-c", "..."))
    reader_cat = f.Proc(41, 40, "cat", ("cat", "/proc/1/stat"))
    check = f.Proc(60, 0, "bash", HEALTH[1:])
    check_head = f.Proc(61, 60, "head", ("head", "-n1"))
    seen = clean(processes=(INIT, WORKER, shell, child, reader, reader_cat, check, check_head))
    assert subjects(findings.compare(EXPECTED, seen)) == [("process", "pid 50"), ("process", "pid 51")]


def test_a_process_seen_half_while_it_exited_is_not_a_finding() -> None:
    gone_parent = f.Proc(62, 60, "head", ("head", "-n1"))  # its parent (pid 60) exited meanwhile
    no_cmdline = f.Proc(63, 0, "bash", ())  # exited between its stat and its cmdline
    assert findings.compare(EXPECTED, clean(processes=(INIT, gone_parent, no_cmdline))) == []


def test_a_shell_healthcheck_is_recognised_by_its_script() -> None:
    shell_check = replace(IMAGE, healthcheck=("CMD-SHELL", "wget -q -O- localhost:8080/healthz"))
    expected = replace(EXPECTED, image=shell_check)
    check = f.Proc(60, 0, "sh", ("sh", "-c", "wget -q -O- localhost:8080/healthz"))
    assert findings.compare(expected, clean(processes=(INIT, check))) == []


def test_pid_1_must_be_what_the_image_starts() -> None:
    impostor = f.Proc(1, 0, "sleep", ("sleep", "600"))
    assert subjects(findings.compare(EXPECTED, clean(processes=(impostor,)))) == [("process", "pid 1")]


def test_exit_code_unreadable_beats_drift_beats_clean() -> None:
    def report(findings_: list[Finding], error: str = "") -> MemberReport:
        return MemberReport("e", "s", "live", "blue", 1, "n", "1.0.0", "fp", findings_, error)

    drift = [Finding("file", "/etc/x", "added")]
    assert findings.exit_code([]) == 0
    assert findings.exit_code([report([])]) == 0
    assert findings.exit_code([report([]), report(drift)]) == 3
    assert findings.exit_code([report(drift), report([], error="cannot inspect")]) == 1
    assert report(drift).as_dict()["verdict"] == "drifted"


def test_member_and_image_facts_from_the_engines_inspect_dicts() -> None:
    attrs = {
        "Name": "/bakery-web-blue1", "Image": "sha256:aaa", "State": {"Status": "running"},
        "Config": {"Cmd": ["nginx", "-g", "daemon off;"], "Entrypoint": None, "User": "www-data",
                   "Env": ["PATH=/usr/bin", "API_TOKEN=s3cr3t"], "Labels": {"a": "b"}},
        "HostConfig": {"RestartPolicy": {"Name": ""}, "PortBindings": {}},
        "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "20001"},
                                                   {"HostIp": "::", "HostPort": "20001"}],
                                      "9000/tcp": None}},
        "Mounts": [{"Destination": "/data"}],
    }
    seen = f.member_facts(attrs)
    assert (seen.name, seen.status, seen.image_id, seen.user) == ("bakery-web-blue1", "running",
                                                                  "sha256:aaa", "www-data")
    assert seen.env_names == {"PATH", "API_TOKEN"}  # names only: a value never leaves the engine
    assert seen.published == ("8080/tcp->20001",) and seen.mounts == ("/data",)
    assert seen.restart_policy == "no" and seen.cmd == ("nginx", "-g", "daemon off;")
    image = f.image_facts({"Id": "sha256:aaa", "Config": {"Cmd": ["nginx"], "Env": ["PATH=/x"],
                                                          "Volumes": {"/v": {}},
                                                          "Healthcheck": {"Test": list(HEALTH)}}})
    assert image.volumes == ("/v",) and image.healthcheck == HEALTH and image.user == ""


def test_the_process_listing_parses_comm_with_spaces_and_finds_its_own_pid() -> None:
    sep = f.ARG_SEP
    text = (f"self 40\n"
            f"1 (nginx) S 0 1 1 0\tnginx: master process nginx{sep}\n"
            f"7 (my (odd) name) S 1 1 1 0\tworker{sep}--flag{sep}\n"
            f"garbage line\n"
            f"9 (zombie) Z 1 1 1 0\t\n")
    procs, me = f.parse_processes(text)
    assert me == 40
    assert procs == (f.Proc(1, 0, "nginx", ("nginx: master process nginx",)),
                     f.Proc(7, 1, "my (odd) name", ("worker", "--flag")),
                     f.Proc(9, 1, "zombie", ()))
