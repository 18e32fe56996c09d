"""The pytest plugin loaded in the verification child (``-p bakery.verify.plugin``).

It binds testinfra's ``host`` fixture to the throwaway container, records every command
run inside it, and writes one JSON line per check to the results file, so the parent can
show which check failed, its assertion, and the command and output behind it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bakery.verify.context import BUILTIN_MODULE, CONTEXT_ENV, GO_ENV, SCAN_ENV, VerifyContext
from bakery.verify.model import ERROR, FAILED, PASSED, SKIPPED, CheckResult, CommandRun, redact_check
from bakery.verify.suites import collection_hint

_runs: list[CommandRun] = []
_context: VerifyContext | None = None


def context() -> VerifyContext:
    global _context
    if _context is None:
        path = os.environ.get(CONTEXT_ENV)
        if not path:
            raise pytest.UsageError(f"{CONTEXT_ENV} is not set: run this through `bakery verify`")
        _context = VerifyContext.load(path)
    return _context


def record_probe(command: str, exit_status: int, stdout: str = "", stderr: str = "") -> None:
    """Note a probe made from outside the container (HTTP, engine inspect) like a command."""
    _runs.append(CommandRun(command, exit_status, stdout, stderr))


def _recording(host: Any) -> Any:
    backend = host.backend
    if getattr(backend, "_bakery_recording", False):
        return host
    original = backend.run

    def run(command: str, *args: str, **kwargs: Any) -> Any:
        result = original(command, *args, **kwargs)
        shown = backend.get_command(command, *args) if args else command
        _runs.append(CommandRun(shown, result.rc, result.stdout, result.stderr))
        return result

    backend.run = run
    backend._bakery_recording = True
    return host


@dataclass(frozen=True)
class ImageInfo:
    """What image tests may want to know about the image under test."""

    name: str
    version: str
    fingerprint: str
    ports: tuple[int, ...]
    user: str | None
    ip: str
    definition: dict[str, Any]


@pytest.fixture(scope="session")
def verify_context() -> VerifyContext:
    return context()


_client: Any = None


# The engine can lose the tail of a short-lived exec's output (moby/moby#27289, docker-py#2042):
# under load a `cat` came back empty with exit 0. Each command ends by printing a mark on both
# streams; output without its marks was cut short, and the (read-only) command runs again.
END_MARK = b"\x1e#bakery-end#\x1e"
OUTPUT_ATTEMPTS = 3


def with_end_marks(cmd: str) -> str:
    """``cmd`` in a subshell (so its own ``exit`` cannot skip the marks), then the marks, keeping
    its exit status."""
    mark = END_MARK.decode().replace("\x1e", "\\036")
    return f"( {cmd}\n); rc=$?; printf '{mark}'; printf '{mark}' >&2; exit $rc"


def _over_one_connection(host: Any) -> Any:
    """Run the host's commands through the engine API on one kept-alive connection, instead of
    a `docker exec` CLI process per command (testinfra's docker backend): same user, same
    `/bin/sh -c`, same exit status and streams, without a process start per command
    (issue 13, item 2)."""
    global _client
    backend = host.backend
    if getattr(backend, "_bakery_api", False):
        return host
    # here, not at the top: the docker SDK loads only when a test asks for a host
    import docker.errors

    from bakery.engine.client import engine

    if _client is None:
        _client = engine()
    api, api_error = _client.api, docker.errors.APIError

    def once(cmd: str) -> tuple[int | None, bytes, bytes]:
        exec_id = api.exec_create(backend.name, ["/bin/sh", "-c", with_end_marks(cmd)],
                                  user=backend.user or "", stdout=True, stderr=True)["Id"]
        out, err = api.exec_start(exec_id, demux=True)
        return api.exec_inspect(exec_id).get("ExitCode"), out or b"", err or b""

    def run(command: str, *args: str, **kwargs: Any) -> Any:
        cmd = backend.get_command(command, *args)
        try:
            for _ in range(OUTPUT_ATTEMPTS):
                rc, out, err = once(cmd)
                if out.endswith(END_MARK) and err.endswith(END_MARK):
                    out, err = out[:-len(END_MARK)], err[:-len(END_MARK)]
                    break
                if rc == 126:  # the engine could not start /bin/sh at all: nothing was cut
                    break
        except api_error as exc:  # e.g. the container stopped: what `docker exec` would say
            return backend.result(1, backend.encode(cmd), b"",
                                  f"Error response from daemon: {exc.explanation or exc}".encode())
        if rc == 126 and not err and out.startswith(b"OCI runtime exec failed"):
            out, err = b"", out  # no /bin/sh in the image: the engine's reason, on stderr as the CLI
        return backend.result(rc if rc is not None else -1, backend.encode(cmd), out, err)

    backend.run = run
    backend._bakery_api = True
    return host


def _sudo_through_root(host: Any) -> Any:
    """``host.sudo(user=None)`` runs as root (or ``user``) through the engine, as `root_host`
    does, instead of calling a `sudo` the image does not have (issue 12, item 15). Nests."""
    backend = host.backend

    @contextlib.contextmanager
    def sudo(user: str | None = None) -> Iterator[None]:
        previous = backend.user
        backend.user = user or "root"
        try:
            yield
        finally:
            backend.user = previous

    host.sudo = sudo  # an instance attribute wins over testinfra's module lookup
    return host


@pytest.fixture(scope="session")
def host() -> Any:
    """testinfra host bound to the throwaway container, running as the image's user."""
    import testinfra

    return _sudo_through_root(_recording(_over_one_connection(
        testinfra.get_host(f"docker://{context().container_id}"))))


@pytest.fixture(scope="session")
def root_host() -> Any:
    """The same container, commands run as root (for reading what the image's user cannot)."""
    import testinfra

    return _recording(_over_one_connection(testinfra.get_host(f"docker://root@{context().container_id}")))


@pytest.fixture(scope="session")
def image() -> ImageInfo:
    ctx = context()
    return ImageInfo(ctx.name, ctx.version, ctx.fingerprint, tuple(ctx.ports), ctx.user, ctx.ip,
                     ctx.definition)


@pytest.fixture(scope="session")
def container_url():
    """container_url(port, path="/") -> http://<container ip>:<port><path>, reachable from here."""
    ip = context().ip

    def url(port: int, path: str = "/") -> str:
        return f"http://{ip}:{port}{path}"

    return url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "declared_package" in metafunc.fixturenames:
        names = sorted(context().packages)
        metafunc.parametrize("declared_package", names, ids=names)
    if "declared_port" in metafunc.fixturenames:
        ports = context().ports
        metafunc.parametrize("declared_port", ports, ids=[str(p) for p in ports])


# -- results ------------------------------------------------------------------------------

def _check_name(item: pytest.Item) -> tuple[str, str]:
    path = Path(str(item.path))
    if path == BUILTIN_MODULE:
        return item.name.removeprefix("test_"), "builtin"
    try:
        relative = path.relative_to(context().image_folder)
    except ValueError:
        relative = Path(path.name)
    return f"{relative.as_posix()}::{item.name}", "tests"


def clean_message(raw: str, limit: int = 12) -> str:
    """The assertion a person reads: the check's own message when it has one, else pytest's
    explanation of the failed assert (trimmed). Pure."""
    text = raw.removeprefix("AssertionError: ").removeprefix("Failed: ")
    head, sep, _ = text.partition("\nassert ")
    if sep and head.strip():
        return head.strip()
    lines = text.strip().splitlines()
    return "\n".join(lines[:limit] + (["..."] if len(lines) > limit else []))


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return clean_message(crash.message)
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # skip: (file, line, reason)
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return report.longreprtext.strip().splitlines()[-1] if report.longreprtext.strip() else ""


def _write(result: CheckResult) -> None:
    ctx = context()
    redact_check(result, list(ctx.secret_values.values()))
    _line(result.as_dict())


def _line(data: dict[str, Any]) -> None:
    with open(context().results_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(data) + "\n")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The checks that read the container's filesystem through the engine run last: their one
    scan starts when the checks begin and runs beside the other checks (``filesystem_scan``)."""
    items.sort(key=lambda item: "filesystem_findings" in getattr(item, "fixturenames", ()))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tell the parent every check that will run, so a cut-off session can name the rest; then
    wait for its go (the container's health verdict) before the first check."""
    global _context
    _line({"event": "collected", "names": [_check_name(item)[0] for item in session.items]})
    go = os.environ.get(GO_ENV)
    if go:
        while not os.path.exists(go):  # the parent kills this child if the go never comes
            time.sleep(0.02)
        _context = None  # read again: it now carries the health verdict


def filesystem_scan() -> tuple[list[str], list[Any]]:
    """(folders scanned, findings) of the one scan of the container's filesystem: bakery's
    process scans from the health verdict on and writes the result where ``SCAN_ENV`` says
    (session.Checks.go, fsscan.py)."""
    from bakery.verify import fsscan  # here: it loads the docker SDK, as a host does

    path = os.environ.get(SCAN_ENV)
    if not path:
        raise pytest.UsageError(f"{SCAN_ENV} is not set: run this through `bakery verify`")
    while not os.path.exists(path):  # the per-test time limit stops a scan that never ends
        time.sleep(0.02)
    return fsscan.read_result(Path(path))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_START] = (len(_runs), time.monotonic())
    _line({"event": "start", "name": _check_name(item)[0]})


def timeout_message(name: str, message: str, limit: float | None) -> str:
    """pytest-timeout's "Timeout (>Ns) from pytest-timeout." said in terms of the check. Pure."""
    if not message.startswith("Timeout (>"):
        return message
    seconds = f"{limit:g}s" if limit else message.removeprefix("Timeout (>").split(")")[0]
    return (f"{name} hung: no result within {seconds} (the per-test limit, `bakery verify "
            "--timeout`); it was stopped and the checks after it still ran")


_START = pytest.StashKey[tuple[int, float]]()
_DONE = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if item.stash.get(_DONE, False):
        return
    final = call.when == "call" or (call.when == "setup" and not report.passed)
    if not final:
        return
    item.stash[_DONE] = True
    start_index, started = item.stash.get(_START, (len(_runs), time.monotonic()))
    runs = _runs[start_index:]
    last = runs[-1] if runs else None
    if report.passed:
        state = PASSED
    elif report.skipped:
        state = SKIPPED
    else:
        state = FAILED if call.when == "call" else ERROR
    name, group = _check_name(item)
    message = "" if state == PASSED else _message(report)
    if state in (FAILED, ERROR):
        message = timeout_message(name, message, item.config.getoption("timeout", None))
    _write(CheckResult(
        name=name, passed=state in (PASSED, SKIPPED), duration=time.monotonic() - started,
        message=message, command=last.command if last and state != PASSED else "",
        output=last.render().split("\n", 1)[1] if last and state != PASSED else "",
        outcome=state, group=group,
        details=report.longreprtext if state in (FAILED, ERROR) else "",
    ))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A file that cannot be collected (syntax error, missing module, Molecule header) is one
    failed check naming the file; the session goes on with everything else (item 12)."""
    if report.failed:
        message = _message(report) or "could not collect tests"
        hint = collection_hint(Path(context().image_folder) / report.nodeid) if report.nodeid else ""
        _write(CheckResult(name=f"{report.nodeid or 'collection'} (collecting tests)", passed=False,
                           duration=0.0, message=f"{hint}\n{message}" if hint else message,
                           outcome=ERROR, group="tests", details=report.longreprtext))
