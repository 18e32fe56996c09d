"""Which image test files run, and which lines in them bakery warns about (issue 12, 11 and 15)."""

from __future__ import annotations

from pathlib import Path

from bakery.verify.suites import collectable_files, collection_hint, image_tests, warnings


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_every_file_pytest_collects_at_any_depth(tmp_path):
    write(tmp_path / "tests", {
        "web/test_pages.py": "", "web/deep/more_test.py": "", "web/conftest.py": "",
        "helpers.py": "", "build/test_skipped_dir.py": "", ".hidden/test_x.py": "",
        "__pycache__/test_y.py": ""})
    found = [p.relative_to(tmp_path / "tests").as_posix() for p in collectable_files(tmp_path / "tests")]
    assert found == ["web/deep/more_test.py", "web/test_pages.py"]
    # no test file at the top is no reason to skip the folder
    assert image_tests(tmp_path) == tmp_path / "tests"


def test_no_test_file_at_all_means_no_image_tests(tmp_path):
    assert image_tests(tmp_path) is None
    write(tmp_path / "tests", {"conftest.py": "", "helpers.py": ""})
    assert image_tests(tmp_path) is None


MOLECULE = """import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('all')
"""


def test_warnings_name_file_and_line(tmp_path):
    write(tmp_path / "tests", {
        "test_molecule.py": MOLECULE,
        "sub/test_hosts.py": "import os\n\ntestinfra_hosts: list = ['docker://x']\n",
        "test_local.py": ("def test_x():\n    testinfra_hosts = 1\n"
                          "    # MOLECULE_INVENTORY_FILE in a comment\n"),
        "test_syntax.py": "def broken(:\n",
    })
    shown = [str(w) for w in warnings(tmp_path)]
    assert len(shown) == 2
    assert shown[0].startswith("tests/sub/test_hosts.py:3: `testinfra_hosts` is ignored")
    assert shown[1].startswith("tests/test_molecule.py:5: a Molecule inventory header")


def test_collection_hint_points_at_the_molecule_header(tmp_path):
    write(tmp_path, {"test_molecule.py": MOLECULE, "test_other.py": "import nope\n"})
    assert "line 5 is a Molecule inventory header" in collection_hint(tmp_path / "test_molecule.py")
    assert collection_hint(tmp_path / "test_other.py") == ""
    assert collection_hint(tmp_path / "missing.py") == ""
