"""Verify must not pass by accident (issue 12, items 11-15), against the real engine and web:

11 tests in subfolders run (conftest.py at any level); 12 a file that cannot be imported is a
failed check naming it while everything else still runs; 13 a hung test fails on its own
limit, named, and the rest still runs; 14 a `kill -9` of bakery leaves nothing for good (the
pytest child dies with it, the next run reaps the rest); 15 `host.sudo()` runs as root, and
`testinfra_hosts` / Molecule headers are warned about.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bakery.build.docker_builder import build
from bakery.engine import labels
from bakery.engine.client import engine
from bakery.project import Project
from bakery.verify.runner import verify

pytestmark = pytest.mark.docker

BAKERY = str(Path(sys.executable).with_name("bakery"))
REPO = Path(__file__).resolve().parents[2]
NAME = "suites"


@pytest.fixture(scope="module")
def built(tmp_path_factory, docker_engine, base_image) -> Project:
    """web under its own name, built once; each test writes its own tests/ folder."""
    root = tmp_path_factory.mktemp("suites") / "project"
    shutil.copytree(REPO / "images" / "web", root / "images" / NAME)
    yaml_path = root / "images" / NAME / "image.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("name: web", f"name: {NAME}"))
    project = Project(root)
    build(project, project.load_image(NAME))
    return project


def write_tests(project: Project, files: dict[str, str]) -> Path:
    tests = project.root / "images" / NAME / "tests"
    shutil.rmtree(tests, ignore_errors=True)
    for relative, text in files.items():
        path = tests / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tests


def leftovers() -> tuple[list[str], list[str]]:
    filters = {"label": [f"{labels.ROLE}=verify", f"{labels.IMAGE_NAME}={NAME}"]}
    containers = [c["Names"][0].lstrip("/") for c in engine().api.containers(all=True, filters=filters)]
    networks = [n["Name"] for n in engine().api.networks(filters=filters)]
    return containers, networks


GOOD = {
    "conftest.py": "import pytest\n\n@pytest.fixture\ndef top_level():\n    return 'top'\n",
    "http/conftest.py": "import pytest\n\n@pytest.fixture\ndef page_port():\n    return 8080\n",
    "http/test_pages.py": (
        "import httpx\n\n"
        "def test_healthz_in_a_subfolder(container_url, page_port, top_level):\n"
        "    assert top_level == 'top'\n"
        "    assert httpx.get(container_url(page_port, '/healthz'), timeout=5).text == 'ok\\n'\n"),
    "system/deep/files_test.py": (
        "testinfra_hosts = ['docker://somewhere-else']\n\n"
        "def test_nginx_conf_exists(host):\n    assert host.file('/etc/nginx/nginx.conf').exists\n\n"
        "def test_sudo_runs_as_root(host):\n"
        "    assert host.check_output('id -u') != '0'\n"
        "    with host.sudo():\n"
        "        assert host.check_output('id -u') == '0'\n"
        "        with host.sudo('www-data'):\n"
        "            assert host.check_output('id -un') == 'www-data'\n"
        "        assert host.user().name == 'root'\n"
        "    assert host.check_output('id -u') != '0'\n"),
}


def migrated_example() -> str:
    """The moved Molecule suite of docs/verify.md (its last python block), run as written."""
    doc = (REPO / "docs" / "verify.md").read_text()
    section = doc.split("## Bringing a Molecule testinfra suite over", 1)[1]
    return section.split("```python\n")[-1].split("```", 1)[0]


@pytest.fixture(scope="module")
def good_run(built):
    write_tests(built, {**GOOD, "migrated/test_default.py": migrated_example()})
    events: list[tuple[str, str]] = []
    report = verify(built, NAME, on_event=lambda kind, data: events.append((kind, data["text"])))
    return report, events


def test_tests_in_subfolders_run_with_their_conftests(good_run):  # item 11
    report, _ = good_run
    assert report.passed, [(c.name, c.message) for c in report.failures]
    own = {c.name for c in report.checks if c.group == "tests" and c.outcome == "passed"}
    assert own == {"tests/http/test_pages.py::test_healthz_in_a_subfolder",
                   "tests/system/deep/files_test.py::test_nginx_conf_exists",
                   "tests/system/deep/files_test.py::test_sudo_runs_as_root",
                   "tests/migrated/test_default.py::test_nginx_is_installed",
                   "tests/migrated/test_default.py::test_config_is_root_owned",
                   "tests/migrated/test_default.py::test_site_answers"}
    assert "port_listening[8080]" in {c.name for c in report.checks}
    assert leftovers() == ([], [])


def test_sudo_maps_to_the_root_connection_and_hosts_lines_are_warned(good_run):  # item 15
    report, events = good_run
    sudo = next(c for c in report.checks if c.name.endswith("test_sudo_runs_as_root"))
    assert sudo.outcome == "passed", sudo.message
    warnings = [text for kind, text in events if kind == "warning"]
    assert warnings == report.warnings
    assert len(warnings) == 1 and warnings[0].startswith("tests/system/deep/files_test.py:1:")
    assert "testinfra_hosts` is ignored" in warnings[0]


MOLECULE = """import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')


def test_molecule_style(host):
    assert host.file('/etc/passwd').exists
"""

BROKEN = {
    "test_fine.py": "def test_fine(host):\n    assert host.file('/etc/passwd').exists\n",
    "test_syntax.py": "def test_broken(:\n    pass\n",
    "sub/test_missing.py": "import no_such_module_here\n\ndef test_x():\n    pass\n",
    "test_molecule.py": MOLECULE,
    # hangs inside the container: the engine connection it was waiting on must not take the
    # next test down with it
    "test_slow.py": ("def test_hangs(host):\n    host.run('sleep 3600')\n\n"
                     "def test_after_the_hang(host):\n    assert host.file('/etc/passwd').exists\n"),
}


@pytest.fixture(scope="module")
def broken_run(built):
    write_tests(built, BROKEN)
    events: list[tuple[str, str]] = []
    report = verify(built, NAME, test_timeout=3,
                    on_event=lambda kind, data: events.append((kind, data["text"])))
    return report, events


def test_a_file_that_cannot_be_imported_fails_alone(broken_run):  # item 12
    report, _ = broken_run
    assert not report.passed
    by_name = {c.name: c for c in report.checks}
    broken = {c.name for c in report.failures if "(collecting tests)" in c.name}
    assert broken == {"tests/test_syntax.py (collecting tests)",
                      "tests/sub/test_missing.py (collecting tests)",
                      "tests/test_molecule.py (collecting tests)"}
    assert "no_such_module_here" in by_name["tests/sub/test_missing.py (collecting tests)"].message
    molecule = by_name["tests/test_molecule.py (collecting tests)"].message
    assert "Molecule inventory header" in molecule and "MOLECULE_INVENTORY_FILE" in molecule
    # everything else still ran: the built-in checks and the other files
    assert by_name["port_listening[8080]"].outcome == "passed"
    assert by_name["main_process"].outcome == "passed"
    assert by_name["tests/test_fine.py::test_fine"].outcome == "passed"
    assert leftovers() == ([], [])


def test_a_hung_test_fails_on_its_own_limit_and_the_rest_runs(broken_run):  # item 13
    report, events = broken_run
    by_name = {c.name: c for c in report.checks}
    hung = by_name["tests/test_slow.py::test_hangs"]
    assert hung.outcome == "failed"
    assert hung.message.startswith("tests/test_slow.py::test_hangs hung: no result within 3s")
    assert by_name["tests/test_slow.py::test_after_the_hang"].outcome == "passed"
    assert any(kind == "warning" and "tests/test_molecule.py:5:" in text for kind, text in events)


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _owner_pid(folder: Path) -> int | None:
    try:
        return int((folder / "owner").read_text().rsplit(":", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


def test_kill_9_leaves_nothing_for_good(built):  # item 14
    from bakery.verify.reaper import TEMP_PREFIX, reap  # here: the other tests ran on the old code

    write_tests(built, {"test_slow.py": "import time\n\ndef test_hangs():\n    time.sleep(3600)\n"})
    before = set(Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"))
    env = {**os.environ, "BAKERY_PROJECT": str(built.root)}
    proc = subprocess.Popen([BAKERY, "verify", NAME], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        pytest_child = None
        while pytest_child is None and proc.poll() is None and time.monotonic() < deadline:
            pytest_child = next(iter(children(proc.pid)), None)
            time.sleep(0.2)
        assert pytest_child is not None, "the pytest child never started"
        # this run's temp folder (other runs on a shared machine may make theirs meanwhile)
        folders = {f for f in set(Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*")) - before
                   if _owner_pid(f) == proc.pid}
        assert len(folders) == 1 and leftovers()[0]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    # the child dies with its parent (the kernel delivers the signal; allow it to be reaped)
    deadline = time.monotonic() + 30
    while alive(pytest_child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pytest_child), "the pytest child outlived bakery"
    containers, networks = leftovers()
    assert containers and networks, "nothing was left to reap: the test proves nothing"
    reaped = reap(engine())  # what the next `bakery verify` (or ci) calls first
    assert set(containers) <= set(reaped.containers) and set(networks) <= set(reaped.networks)
    assert folders <= {Path(f) for f in reaped.folders}
    assert leftovers() == ([], [])
    assert not any(f.exists() for f in folders)


def test_a_broken_top_level_conftest_still_lets_the_builtin_checks_run(built):  # item 12
    write_tests(built, {"conftest.py": "import no_such_plugin_module\n",
                        "test_fine.py": "def test_fine():\n    pass\n"})
    report = verify(built, NAME)
    by_name = {c.name: c for c in report.checks}
    broken = by_name["tests/conftest.py (collecting tests)"]
    assert not broken.passed and "no_such_plugin_module" in broken.message
    assert by_name["port_listening[8080]"].outcome == "passed"
    assert [c.name for c in report.failures] == ["tests/conftest.py (collecting tests)"]
