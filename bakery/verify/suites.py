"""The image's own test suite (images/<name>/tests/): which files pytest will collect, and
what in them will not work the way its author expects under bakery. Pure (reads files only).

Verify must not pass by accident (issue 12, items 11 and 15): a test file in a subfolder is
run like one at the top, and lines written for another runner (testinfra's ``testinfra_hosts``,
Molecule's inventory header) are pointed out instead of silently ignored.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass
from pathlib import Path

# pytest's defaults (python_files, norecursedirs); the child session runs with an empty ini,
# so these are exactly what it collects.
TEST_FILES = ("test_*.py", "*_test.py")
SKIPPED_DIRS = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}",
                "__pycache__")
MOLECULE_MARKERS = ("MOLECULE_INVENTORY_FILE", "AnsibleRunner")
MIGRATION_DOC = "docs/verify.md, 'Bringing a Molecule testinfra suite over'"


def collectable_files(tests: Path) -> list[Path]:
    """Every file pytest would collect under ``tests`` (any depth), sorted."""
    found: list[Path] = []
    if not tests.is_dir():
        return found
    for path in sorted(tests.rglob("*.py")):
        relative = path.relative_to(tests)
        if any(fnmatch.fnmatch(part, pattern) for part in relative.parts[:-1] for pattern in SKIPPED_DIRS):
            continue
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in TEST_FILES):
            found.append(path)
    return found


def image_tests(image_folder: Path) -> Path | None:
    """The folder to hand pytest, or None when the image has no test file at any depth."""
    tests = image_folder / "tests"
    return tests if collectable_files(tests) else None


@dataclass(frozen=True)
class SuiteWarning:
    """Something in a test file that bakery will not honour; ``line`` is 1-based (0: whole file)."""

    path: str  # relative to the image folder
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}" if self.line else f"{self.path}: {self.text}"


def molecule_header(source: str) -> int:
    """The line of a Molecule inventory header (``MOLECULE_INVENTORY_FILE``/``AnsibleRunner``),
    or 0 when there is none."""
    for number, line in enumerate(source.splitlines(), 1):
        if any(marker in line for marker in MOLECULE_MARKERS) and not line.lstrip().startswith("#"):
            return number
    return 0


def _module_level_hosts(source: str) -> int:
    """The line of a module-level ``testinfra_hosts = ...``, or 0."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return 0  # reported as a collection error by the session
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "testinfra_hosts" for t in targets):
            return node.lineno
    return 0


def warnings(image_folder: Path) -> list[SuiteWarning]:
    """Lines in the image's tests that bakery does not honour, with what to do instead."""
    out: list[SuiteWarning] = []
    tests = image_folder / "tests"
    candidates = collectable_files(tests) + sorted(tests.rglob("conftest.py")) if tests.is_dir() else []
    for path in candidates:
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        shown = path.relative_to(image_folder).as_posix()
        header = molecule_header(source)
        if header:
            out.append(SuiteWarning(shown, header, "a Molecule inventory header: bakery has no Molecule "
                               "inventory; delete it (`host` is already the throwaway container); "
                               f"see {MIGRATION_DOC}"))
        hosts = _module_level_hosts(source)
        if hosts and hosts != header:
            out.append(SuiteWarning(shown, hosts, "`testinfra_hosts` is ignored: bakery runs every test "
                               "against the throwaway container (use `root_host` or `host.sudo()` "
                               "for root)"))
    return out


def collection_hint(path: Path) -> str:
    """Advice to add to a file's collection error when bakery knows the likely cause. Pure-ish."""
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    line = molecule_header(source)
    if line:
        return (f"line {line} is a Molecule inventory header (MOLECULE_INVENTORY_FILE); bakery has "
                f"no Molecule inventory: delete the header, `host` is the container ({MIGRATION_DOC})")
    return ""
