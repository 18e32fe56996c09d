"""The VERIFIED cell of `bakery images`, as data cases."""

from __future__ import annotations

import pytest

from bakery.store.verifications import VerificationRecord, summary

WHEN = "2026-11-30T18:26:39Z"


@pytest.mark.parametrize(
    ("passed", "counts", "expected"),
    [
        (True, {"passed": 23, "skipped": 1}, f"passed 23/24 (1 skipped) {WHEN}"),
        (True, {"passed": 11}, f"passed 11/11 {WHEN}"),
        (False, {"passed": 20, "failed": 3, "error": 1}, f"FAILED 4/24 {WHEN}"),
        (False, {"passed": 20, "failed": 1, "skipped": 2}, f"FAILED 1/23 (2 skipped) {WHEN}"),
        # A skipped check is not a passed one: the cell used to say "passed 10/10" here.
        (True, {"passed": 9, "skipped": 1, "failed": 0, "error": 0}, f"passed 9/10 (1 skipped) {WHEN}"),
        (False, {"passed": 8, "failed": 2}, f"FAILED 2/10 {WHEN}"),
    ],
)
def test_summary(passed: bool, counts: dict[str, int], expected: str) -> None:
    rec = VerificationRecord("f" * 64, "bakery/web:1.0.0", passed, WHEN, 5.0, {"counts": counts})
    assert summary(rec) == expected


def test_never_verified() -> None:
    assert summary(None) == "not verified"
