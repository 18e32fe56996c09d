"""Run the checks: one pytest session, in a child process of this Python, holding the built-in
checks and the image's own testinfra tests (images/<name>/tests/test_*.py).

A child rather than pytest.main in-process: image test modules of different images never
share sys.modules, an interrupted run cannot leave pytest state behind, and it works the
same when bakery itself runs under pytest. Results stream back as JSON lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bakery.verify.context import CONTEXT_ENV, VerifyContext
from bakery.verify.model import ERROR, CheckResult
from bakery.verify.plugin import BUILTIN_MODULE

SESSION_TIMEOUT = float(os.environ.get("BAKERY_VERIFY_TIMEOUT", "600"))


def image_tests(image_folder: Path) -> Path | None:
    tests = image_folder / "tests"
    return tests if tests.is_dir() and any(tests.glob("test_*.py")) else None


def pytest_args(ini: Path, image_folder: Path, tests: Path | None) -> list[str]:
    args = [sys.executable, "-m", "pytest",
            "-p", "bakery.verify.plugin", "-p", "no:testinfra", "-p", "no:pytest11.testinfra",
            "-p", "no:cacheprovider",
            "-c", str(ini), "--rootdir", str(image_folder), "--confcutdir", str(image_folder),
            "--import-mode=importlib", "-q", "--no-header", "-rN", "--tb=short",
            str(BUILTIN_MODULE)]
    if tests is not None:
        args.append(str(tests))
    return args


def run_checks(ctx: VerifyContext, emit: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run every check against the container in ``ctx``; returns results in the order run."""
    emit = emit or (lambda result: None)
    image_folder = Path(ctx.image_folder)
    results: list[CheckResult] = []
    with tempfile.TemporaryDirectory(prefix="bakery-verify-") as tmp:
        folder = Path(tmp)
        results_path = folder / "results.jsonl"
        results_path.touch()
        ctx.results_path = str(results_path)
        ctx.save(folder / "context.json")
        ini = folder / "pytest.ini"
        ini.write_text("[pytest]\n")
        log_path = folder / "pytest.log"
        env = {**os.environ, CONTEXT_ENV: str(folder / "context.json"), "PYTHONDONTWRITEBYTECODE": "1"}
        started = time.monotonic()
        with open(log_path, "wb") as log, open(results_path, encoding="utf-8") as feed:
            proc = subprocess.Popen(pytest_args(ini, image_folder, image_tests(image_folder)),
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=image_folder)
            try:
                while True:
                    try:
                        code = proc.wait(timeout=0.25)
                    except subprocess.TimeoutExpired:
                        code = None
                    for line in feed.readlines():
                        if line.strip():
                            result = CheckResult.from_dict(json.loads(line))
                            results.append(result)
                            emit(result)
                    if code is not None:
                        break
                    if time.monotonic() - started > SESSION_TIMEOUT:
                        proc.kill()
                        proc.wait()
                        code = -9
                        results.append(CheckResult(
                            "checks finished in time", False, time.monotonic() - started,
                            f"the checks did not finish within {SESSION_TIMEOUT:.0f}s "
                            "(BAKERY_VERIFY_TIMEOUT); a command inside the container may hang",
                            outcome=ERROR, group="setup"))
                        break
            finally:
                if proc.poll() is None:  # interrupted: do not leave the child behind
                    proc.kill()
                    proc.wait()
        if code not in (0, 1, -9) or not results:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
            results.append(CheckResult(
                "test session", False, time.monotonic() - started,
                f"pytest exited {code} before reporting every check", output=tail,
                outcome=ERROR, group="setup", details=tail))
    return results
