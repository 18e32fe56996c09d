"""Checks every image gets, derived from its definition as built. Collected by the child pytest
session next to the image's own tests (so they share one report and one JUnit file).

They read /proc and files rather than calling ps or ss, so they work on small images; when
a tool they do need is missing, the failure says which one. What they read inside the
container comes from one exec for all of them (snapshot.py), not one per check.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import httpx
import pytest

from bakery.engine.client import engine
from bakery.verify import procfs, secretscan, snapshot
from bakery.verify.context import VerifyContext
from bakery.verify.plugin import filesystem_scan, record_probe


@dataclass(frozen=True)
class Snapshot:
    """The one exec's result: its sections, or why there are none."""

    sections: dict[str, snapshot.Section]
    rc: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def container_snapshot(verify_context: VerifyContext, host) -> Snapshot:
    """Everything the checks below read inside the container, in one exec (snapshot.py)."""
    wanted = snapshot.commands(sorted(verify_context.packages))
    result = host.run(snapshot.script(wanted))
    return Snapshot(snapshot.parse(result.stdout, wanted), result.rc, result.stdout, result.stderr)


def section(snap: Snapshot, key: str, tool: str) -> snapshot.Section:
    """A check's own part of the snapshot, recorded as the command it ran; fails plainly when
    the image lacks ``tool`` (or a shell to run the snapshot at all)."""
    found = snap.sections.get(key)
    if found is None:
        pytest.fail(f"`/bin/sh` could not run in the image (needed for this check): "
                    f"exit {snap.rc}: {snap.stderr.strip() or snap.stdout.strip()[:500]}")
    record_probe(found.command, found.rc, found.output)
    if found.missing_tool():
        pytest.fail(f"`{tool}` is not available in the image (needed for this check): "
                    f"{found.output.strip()}")
    return found


def test_healthcheck_status(verify_context: VerifyContext) -> None:
    if not verify_context.healthcheck:
        pytest.skip("no healthcheck declared")
    container = engine().containers.get(verify_context.container_id)
    health = container.attrs["State"].get("Health") or {}
    status = health.get("Status", "none")
    last = (health.get("Log") or [{}])[-1]
    record_probe("docker inspect --format '{{json .State.Health}}' " + verify_context.container_name,
                 int(last.get("ExitCode", -1)) if last else -1, last.get("Output", ""))
    assert status == "healthy", (f"the engine reports the container {status!r}; its last health probe "
                                 f"exited {last.get('ExitCode')} with: {last.get('Output', '').strip()!r}")


def test_healthcheck_answers(verify_context: VerifyContext, host) -> None:
    hc = verify_context.healthcheck
    if not hc:
        pytest.skip("no healthcheck declared")
    timeout = float(hc.get("timeout") or 3.0)
    if hc.get("http_path"):
        url = f"http://{verify_context.ip}:{hc['http_port']}{hc['http_path']}"
        try:
            response = httpx.get(url, timeout=timeout)
        except httpx.HTTPError as exc:
            record_probe(f"GET {url}", 1, "", f"{type(exc).__name__}: {exc}")
            pytest.fail(f"GET {url} did not answer within {timeout}s: {type(exc).__name__}: {exc}")
        record_probe(f"GET {url}", 0 if response.status_code == 200 else 1,
                     f"HTTP {response.status_code}\n{response.text[:2000]}")
        assert response.status_code == 200, f"GET {url} answered {response.status_code}, not 200"
    else:
        argv = hc["command"]
        script = argv[2] if len(argv) == 3 and argv[1] == "-c" else shlex.join(argv)
        result = host.run(script)
        assert result.rc == 0, f"the health command exited {result.rc}"


def test_package_installed(declared_package: str, verify_context: VerifyContext,
                           container_snapshot: Snapshot) -> None:
    recorded = verify_context.packages.get(declared_package)
    found = section(container_snapshot, f"package:{declared_package}", "dpkg-query")
    status, _, version = found.output.partition("|")
    assert found.rc == 0 and status.endswith(" installed"), \
        f"package {declared_package} is not installed"
    assert recorded, f"the build recorded no version of {declared_package} (rebuild the image)"
    assert version == recorded, \
        f"package {declared_package} is {version}, but the build recorded {recorded}"


def test_port_listening(declared_port: int, container_snapshot: Snapshot) -> None:
    listeners = procfs.parse_net_tcp(section(container_snapshot, "tcp", "cat").output)
    reachable = procfs.reachable_ports(listeners)
    shown = ", ".join(f"{x.address}:{x.port}" for x in listeners) or "nothing"
    assert declared_port in reachable, \
        f"nothing listens on port {declared_port} on a reachable address (listening: {shown})"


def test_declared_user(verify_context: VerifyContext, container_snapshot: Snapshot) -> None:
    passwd = procfs.parse_passwd(section(container_snapshot, "passwd", "cat").output)
    status = procfs.parse_status(section(container_snapshot, "status", "cat").output)
    uid = procfs.effective_uid(status)
    user = verify_context.user
    if not user:
        names = [n for n, u in passwd.items() if u == uid]
        pytest.skip(f"no user declared; the main process runs as uid {uid} ({', '.join(names) or '?'})")
    want = procfs.expected_uid(user, passwd)
    assert want is not None, f"the declared user {user!r} does not exist in /etc/passwd"
    assert uid == want, f"the main process runs as uid {uid}, not as {user} (uid {want})"


def test_main_process(verify_context: VerifyContext, container_snapshot: Snapshot) -> None:
    status = procfs.parse_status(section(container_snapshot, "status", "cat").output)
    cmdline = procfs.parse_cmdline(section(container_snapshot, "cmdline", "cat").output)
    defn = verify_context.definition
    programs = procfs.expected_programs(defn.get("entrypoint"), defn.get("cmd"))
    state = status.get("State", "?")
    assert not state.startswith(("Z", "X")), f"the main process (PID 1) is {state}"
    assert procfs.process_matches(status.get("Name", ""), cmdline, programs), (
        f"PID 1 is {status.get('Name')!r} ({' '.join(cmdline)!r}), "
        f"expected one of {', '.join(programs)}")


@pytest.fixture(scope="module")
def filesystem_findings(verify_context: VerifyContext) -> list[secretscan.Finding]:
    """The one scan of the container's filesystem (started with the checks, plugin.py), and its
    log as it is now."""
    scanned, found = filesystem_scan()
    findings = list(found)
    container = engine().containers.get(verify_context.container_id)
    findings.extend(secretscan.scan_text(container.logs().decode("utf-8", "replace"),
                                         verify_context.secret_values, "container log"))
    record_probe("engine export of " + " ".join(scanned), 1 if findings else 0,
                 "\n".join(str(f) for f in findings))
    return findings


def _only(findings: list[secretscan.Finding], kind: str) -> list[str]:
    return [str(f) for f in findings if f.kind == kind]


def test_no_private_keys(filesystem_findings, verify_context: VerifyContext) -> None:
    # A key the container made after it started (an SSH server's host keys, generated at each
    # start so no two hosts share one) is not baked into the image: the engine's diff says which.
    made = {change["Path"] for change in
            engine().containers.get(verify_context.container_id).diff() or [] if change.get("Kind") == 1}
    found = [str(f) for f in filesystem_findings if f.kind == "private key" and f.where not in made]
    assert not found, "private key(s) baked into the image: " + "; ".join(found)


def test_no_credential_files(filesystem_findings) -> None:
    found = _only(filesystem_findings, "credentials file")
    assert not found, "credentials file(s) in the image: " + "; ".join(found)


def test_no_secret_values(filesystem_findings, verify_context: VerifyContext) -> None:
    if not verify_context.secret_values:
        pytest.skip("no secrets declared")
    found = _only(filesystem_findings, "secret value")
    assert not found, "a secret's value was written to disk or the log: " + "; ".join(found)


def test_no_secrets_in_config(verify_context: VerifyContext) -> None:
    config = engine().images.get(verify_context.image_id).attrs.get("Config") or {}
    env = secretscan.parse_env_list(config.get("Env"))
    labels = config.get("Labels") or {}
    findings = secretscan.scan_config(env, labels, verify_context.definition.get("secrets") or [])
    record_probe(f"docker image inspect {verify_context.image_id[:19]} (Env, Labels)",
                 1 if findings else 0, "\n".join(str(f) for f in findings))
    assert not findings, "secret-looking values in the image config: " + \
        "; ".join(str(f) for f in findings)
