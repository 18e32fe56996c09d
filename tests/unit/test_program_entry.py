"""bakery as a program (bakery/__main__.py): the console script and `python -m bakery` run the
command line with the collector's start-up and shutdown work spared; importing bakery leaves
the importing process's collector alone."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_console_script_is_the_program_entry() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["bakery"] == "bakery.__main__:run"


def test_python_dash_m_bakery_runs_the_command_line_and_keeps_its_exit_code() -> None:
    ok = subprocess.run([sys.executable, "-m", "bakery", "--version"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("bakery, version ")
    bad = subprocess.run([sys.executable, "-m", "bakery", "no-such-command"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "no-such-command" in bad.stderr


def test_the_program_freezes_its_start_up_objects_and_collects_what_comes_after() -> None:
    probe = ("import gc, bakery.__main__ as m; "
             "print(gc.isenabled(), gc.get_freeze_count() > 10000)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_importing_the_command_line_leaves_the_collector_alone() -> None:
    probe = "import gc; import bakery.cli; print(gc.isenabled(), gc.get_freeze_count())"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "0"]
