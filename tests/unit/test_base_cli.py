"""bakery base REF: a reference the engine cannot parse is bad input."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bakery.cli import main


@pytest.mark.parametrize("ref", ["debian:../x", "debian:", ":bookworm", "Debian:bookworm",
                                 "debian:bookworm;rm", "debian:.hidden", "deb--ian/:x"])
def test_bakery_base_with_a_malformed_reference_is_bad_input(ref: str) -> None:
    result = CliRunner().invoke(main, ["base", ref])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or \
        isinstance(result.exception, SystemExit)
    assert "like debian:bookworm" in result.output

