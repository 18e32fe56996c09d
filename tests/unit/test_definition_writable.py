"""image.yaml `writable:` (issue 14): paths a running member may change without it being drift.
Bad input gets one error naming file, line and key (invariant 7); the key shapes no image."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.errors import DefinitionError
from bakery.project import Project


def with_writable(project: Project, block: str) -> Path:
    path = project.root / "images" / "web" / "image.yaml"
    path.write_text(path.read_text() + block)
    return path


def test_declared_paths_load_and_leave_the_fingerprint_input_alone(project: Project) -> None:
    before = project.load_image("web").normalised()
    with_writable(project, "writable:\n  - /var/www/uploads\n  - /srv/cache\n")
    defn = project.load_image("web")
    assert defn.writable == ("/var/www/uploads", "/srv/cache")
    assert defn.normalised() == before


@pytest.mark.parametrize(("block", "message"), [
    ("writable: /tmp\n", "writable: should be a list, got a string"),
    ("writable:\n  - var/lib/app\n", "writable[0]: should be an absolute path like /var/lib/app"),
    ("writable:\n  - /srv\n  - /srv\n", "writable[1]: duplicate entry '/srv'"),
    ("writable:\n  - /srv/../etc\n", "writable[0]: must be a normalised absolute path, not / itself"),
    ("writable:\n  - /\n", "writable[0]: must be a normalised absolute path, not / itself"),
    ("writable:\n  - /proc/self\n", "writable[0]: is under /proc"),
])
def test_a_bad_writable_entry_names_file_line_and_key(project: Project, block: str, message: str) -> None:
    path = with_writable(project, block)
    lines = len(path.read_text().splitlines())
    with pytest.raises(DefinitionError) as caught:
        project.load_image("web")
    text = str(caught.value)
    assert text.startswith("images/web/image.yaml:"), text
    assert message in text, text
    assert int(text.split(":")[1]) in range(lines - block.count("\n") + 1, lines + 1), text
