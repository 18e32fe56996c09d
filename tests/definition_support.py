"""Bad input in the staging rollout definition: one error naming file, line and key, the same
from loading and from `bakery lint` (exit 2), and nothing changed. Shared by the tests of each
key that lives in a rollout definition (targets, registry, swarm...)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.errors import DefinitionError
from bakery.project import Project

STAGING = "rollouts/staging/web.yaml"


def append_to_staging(root: Path, text: str) -> None:
    path = root / STAGING
    path.write_text(path.read_text() + text)


def assert_refused(root: Path, appended: str, expected: str) -> None:
    """``appended`` added to the staging definition is refused with exactly ``expected``, by
    loading and by `bakery lint` (exit 2), and the file is left as it was."""
    append_to_staging(root, appended)
    before = (root / STAGING).read_text()
    with pytest.raises(DefinitionError) as info:
        Project(root).load_rollout("staging", "web")
    assert str(info.value) == expected
    result = CliRunner().invoke(main, ["--project", str(root), "lint"])
    assert result.exit_code == 2 and expected in result.stderr
    assert (root / STAGING).read_text() == before
