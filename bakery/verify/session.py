"""Run the checks: one pytest session, in a child process of this Python, holding the built-in
checks and the image's own testinfra tests (every file pytest collects under images/<name>/tests/).

A child rather than pytest.main in-process: image test modules of different images never
share sys.modules, an interrupted run cannot leave pytest state behind, and it works the
same when bakery itself runs under pytest. Results stream back as JSON lines.

Verify must not pass by accident (issue 12, items 11-14): a file that fails to import is one
failed check and the rest still runs (``--continue-on-collection-errors``); each test has its
own time limit (pytest-timeout) and the session limit names the test that hung and the tests
that never ran; the child dies with bakery (PR_SET_PDEATHSIG), even on ``kill -9``.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bakery.verify import fsscan
from bakery.verify.context import BUILTIN_MODULE, CONTEXT_ENV, GO_ENV, SCAN_ENV, VerifyContext
from bakery.verify.model import ERROR, CheckResult
from bakery.verify.reaper import make_temp_folder
from bakery.verify.suites import image_tests

SESSION_TIMEOUT = float(os.environ.get("BAKERY_VERIFY_TIMEOUT", "600"))
TEST_TIMEOUT = 120.0  # seconds per test (setup, call and teardown); `--timeout` changes it
# Nothing here imports plugin.py or pytest: that would load pytest into every bakery command.
PR_SET_PDEATHSIG = 1


def pytest_args(ini: Path, image_folder: Path, tests: Path | None,
                test_timeout: float = TEST_TIMEOUT) -> list[str]:
    args = [sys.executable, "-m", "pytest",
            "-p", "bakery.verify.plugin", "-p", "no:testinfra", "-p", "no:pytest11.testinfra",
            "-p", "no:cacheprovider",  # pytest-timeout loads by its entry point
            "-c", str(ini), "--rootdir", str(image_folder), "--confcutdir", str(image_folder),
            "--import-mode=importlib", "-q", "--no-header", "-rN", "--tb=short",
            # a broken test file is one failed check, not the end of the session (item 12)
            "--continue-on-collection-errors",
            # signal method: the hung test fails and the session goes on with the next one
            f"--timeout={test_timeout:g}", "--timeout-method=signal",
            str(BUILTIN_MODULE)]
    if tests is not None:
        args.append(str(tests))
    return args


def die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGKILL when the bakery process that started it dies, so a
    ``kill -9`` of bakery cannot leave a pytest session running against a removed container."""

    def preexec() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # not Linux: the reaper still cleans up after us
            return
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def overrun_message(limit: float, collected: list[str], started: list[str],
                    finished: set[str]) -> tuple[list[str], list[str], str]:
    """(hung tests, tests that never ran, message) when the session limit cut the run. Pure."""
    hung = [name for name in started if name not in finished]
    begun = set(started)
    never = [name for name in collected if name not in begun and name not in finished]
    message = f"the checks did not finish within {limit:g}s (BAKERY_VERIFY_TIMEOUT)"
    message += f"; still running: {', '.join(hung)}" if hung else "; no test was running"
    if never:
        shown = never[:20] + ([f"... ({len(never) - 20} more)"] if len(never) > 20 else [])
        message += f"; never ran ({len(never)}): {', '.join(shown)}"
    return hung, never, message


class _Feed:
    """What the child reported so far: check results, and the collected/started events."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []
        self.collected: list[str] = []
        self.started: list[str] = []

    def take(self, line: str, emit: Callable[[CheckResult], None]) -> None:
        data = json.loads(line)
        event = data.get("event")
        if event == "collected":
            self.collected = list(data["names"])
        elif event == "start":
            self.started.append(data["name"])
        elif event is None:
            result = CheckResult.from_dict(data)
            self.results.append(result)
            emit(result)


class Checks:
    """One verification's pytest child, started before the container is healthy.

    The child spends about a second starting Python, importing pytest and testinfra and
    collecting the checks: it does that while the parent waits for the container's health
    verdict, then waits for ``go`` (the health verdict in the context file, then a go file)
    before it runs anything (issue 13, item 2). Use as a context manager: the child and its
    folder go on every way out."""

    def __init__(self, ctx: VerifyContext, *, test_timeout: float = TEST_TIMEOUT,
                 session_timeout: float | None = None):
        self.ctx = ctx
        self.test_timeout = test_timeout
        self.limit = SESSION_TIMEOUT if session_timeout is None else session_timeout
        self.folder = make_temp_folder()
        self.feed = _Feed()
        results_path = self.folder / "results.jsonl"
        results_path.touch()
        ctx.results_path = str(results_path)
        ctx.save(self.folder / "context.json")
        self.ini = self.folder / "pytest.ini"
        self.ini.write_text("[pytest]\n")
        self.go_path = self.folder / "go"
        self.scan_path = self.folder / "scan.json"
        self.scan: threading.Thread | None = None
        self.env = {**os.environ, CONTEXT_ENV: str(self.folder / "context.json"),
                    GO_ENV: str(self.go_path), SCAN_ENV: str(self.scan_path),
                    "PYTHONDONTWRITEBYTECODE": "1"}
        self.image_folder = Path(ctx.image_folder)
        self.child = _Child(pytest_args(self.ini, self.image_folder, image_tests(self.image_folder),
                                        test_timeout), self.image_folder, self.env, results_path)

    def __enter__(self) -> Checks:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.child.stop()
        if self.scan is not None and exc_type is None:
            self.scan.join()  # done when the checks are (they read it); interrupted: not waited for
        shutil.rmtree(self.folder, ignore_errors=True)

    def go(self, health_status: str | None) -> None:
        """Hand the child the health verdict and let it run the checks; scan the container's
        filesystem here meanwhile (this process only waits for results; fsscan.py)."""
        self.ctx.health_status = health_status
        staged = self.folder / "context.next.json"
        self.ctx.save(staged)
        staged.replace(self.folder / "context.json")  # the child never reads half a file
        self.go_path.touch()
        dests = [f["dest"] for f in self.ctx.definition.get("files") or []]
        self.scan = threading.Thread(target=fsscan.write_result, name="bakery-fsscan", daemon=True,
                                     args=(self.scan_path, self.ctx.container_id,
                                           self.ctx.secret_values, dests))
        self.scan.start()

    def finish(self, emit: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
        """Wait for every check (after ``go``); the results in the order they ran."""
        emit = emit or (lambda result: None)
        feed = self.feed
        started = time.monotonic()
        code, log = self.child.follow(feed, emit, started + self.limit)
        broken = broken_conftest(log, self.image_folder) if not feed.results else None
        if broken is not None:
            # A conftest.py at the top of tests/ is loaded before collection: when it cannot be
            # imported pytest runs nothing. Name it, and still run the built-in checks.
            feed.results.append(CheckResult(f"{broken[0]} (collecting tests)", False, 0.0, broken[1],
                                            outcome=ERROR, group="tests", details=log))
            emit(feed.results[-1])
            self.child = _Child(pytest_args(self.ini, self.image_folder, None, self.test_timeout),
                                self.image_folder, self.env, Path(self.ctx.results_path))
            code, log = self.child.follow(feed, emit, started + self.limit)
        if code == -9:
            _overrun(feed, self.limit, time.monotonic() - started, emit)
        elif code not in (0, 1) or not feed.results:
            tail = "\n".join(log.splitlines()[-30:])
            feed.results.append(CheckResult(
                "test session", False, time.monotonic() - started,
                f"pytest exited {code} before reporting every check", output=tail,
                outcome=ERROR, group="setup", details=tail))
        return feed.results


def broken_conftest(log: str, image_folder: Path) -> tuple[str, str] | None:
    """(conftest path relative to the image folder, the error) when pytest stopped because a
    conftest.py could not be imported, from its output. Pure."""
    marker = "ImportError while loading conftest '"
    if marker not in log:
        return None
    after = log.split(marker, 1)[1]
    path = after.split("'", 1)[0]
    error = next((line[1:].strip() for line in after.splitlines() if line.startswith("E ")), "")
    try:
        shown = Path(path).relative_to(image_folder).as_posix()
    except ValueError:
        shown = path
    return shown, error or "could not be imported"


class _Child:
    """One pytest child process, its output in a log next to the results file."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], results_path: Path):
        self.results_path = results_path
        self.log_path = results_path.with_name("pytest.log")
        self.lines = open(results_path, encoding="utf-8")  # noqa: SIM115 (closed in stop)
        self.lines.seek(0, os.SEEK_END)  # a second session appends after the first one's lines
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                         preexec_fn=die_with_parent(os.getpid()))

    def follow(self, feed: _Feed, emit: Callable[[CheckResult], None],
               deadline: float) -> tuple[int, str]:
        """Feed the child's results as they come until it ends; (exit code, its output).
        The exit code is -9 when ``deadline`` (monotonic) passed and the child was killed."""
        try:
            while True:
                try:
                    code: int | None = self.proc.wait(timeout=0.25)
                except subprocess.TimeoutExpired:
                    code = None
                for line in self.lines.readlines():
                    if line.strip():
                        feed.take(line, emit)
                if code is not None:
                    break
                if time.monotonic() > deadline:
                    self.proc.kill()
                    self.proc.wait()
                    code = -9
                    break
        finally:
            self.stop()
        return code, self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Kill the child when it still runs (interrupted, or never told to go); idempotent."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.lines.close()


def _overrun(feed: _Feed, limit: float, elapsed: float, emit: Callable[[CheckResult], None]) -> None:
    finished = {r.name for r in feed.results}
    hung, never, message = overrun_message(limit, feed.collected, feed.started, finished)
    for name in hung:
        result = CheckResult(name, False, 0.0, f"hung: still running when the session limit of "
                             f"{limit:g}s was reached", outcome=ERROR,
                             group="builtin" if "::" not in name else "tests")
        feed.results.append(result)
        emit(result)
    feed.results.append(CheckResult("checks finished in time", False, elapsed, message,
                                    outcome=ERROR, group="setup", details="\n".join(never)))
    emit(feed.results[-1])
