"""bakery._deferred: a module that loads on first use, once, whole, from any thread."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

import pytest

from bakery._deferred import defer


@pytest.fixture
def slow_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A package whose body takes a while and counts how often it ran; it imports a submodule
    that reads a name back from the package, as paramiko's modules do."""
    name = f"bakery_deferred_probe_{tmp_path.name.replace('-', '_')}"
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import time, builtins\n"
        "builtins.__dict__.setdefault('_probe_runs', []).append(__name__)\n"
        "time.sleep(0.2)\n"
        "from .part import VALUE\n"
        "READY = VALUE + 1\n")
    (pkg / "part.py").write_text(f"from {name} import __name__ as parent\nVALUE = 41\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
        del sys.modules[key]
    import builtins
    builtins.__dict__.pop("_probe_runs", None)


def runs(name: str) -> int:
    import builtins
    return builtins.__dict__.get("_probe_runs", []).count(name)


def test_a_deferred_module_runs_on_first_attribute_read_not_on_import(slow_package: str) -> None:
    defer(slow_package)
    module = __import__(slow_package)
    assert runs(slow_package) == 0
    assert module.READY == 42
    assert runs(slow_package) == 1
    assert type(sys.modules[slow_package]) is types.ModuleType


def test_threads_reading_it_first_at_once_see_it_whole_and_it_runs_once(slow_package: str) -> None:
    defer(slow_package)
    module = sys.modules[slow_package]
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(getattr(module, "READY", None)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [42] * 8
    assert runs(slow_package) == 1


def test_a_module_already_loaded_or_missing_is_left_as_it_is() -> None:
    before = sys.modules["json"]
    defer("json")
    assert sys.modules["json"] is before
    defer("bakery_no_such_module_anywhere")
    assert "bakery_no_such_module_anywhere" not in sys.modules


def test_paramiko_under_the_docker_sdk_is_the_real_module_once_used() -> None:
    import paramiko  # the same object docker.transport.sshconn holds
    from docker.transport import sshconn

    assert sshconn.paramiko is paramiko
    assert issubclass(paramiko.SSHClient, object) and type(paramiko) is types.ModuleType
