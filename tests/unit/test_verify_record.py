"""A finished verification is never lost when the state store cannot take it (issue 12 item 5)."""

from __future__ import annotations

import tempfile

import pytest

from bakery.errors import StoreError
from bakery.project import Project
from bakery.store import verifications
from bakery.verify.model import VerifyReport
from bakery.verify.runner import record_report


def test_a_result_the_store_cannot_take_is_saved_for_import_and_the_error_says_where(
        project_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the saved file goes away with the test
    project = Project(project_copy)
    project.state_dir.mkdir()
    project.db_path.mkdir()  # not a database: the store cannot open it
    report = VerifyReport("web", "1.0.0", "f" * 64, "bakery/web:fp-ffffffffffff", "sha256:abc",
                          "2026-12-01T00:00:00Z")
    with pytest.raises(StoreError, match="bakery state import-verification") as err:
        record_report(project, report)
    saved = str(err.value).split("was saved to ")[1].split(":")[0]
    assert saved.startswith(str(tmp_path))
    rec = verifications.from_json(open(saved).read())
    assert rec.fingerprint == "f" * 64 and rec.passed == report.passed
