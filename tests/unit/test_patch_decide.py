"""Patch decisions: the current image, drift, production, the report shape. Pure."""

from __future__ import annotations

import json

from bakery.packages import Package, PackageChange
from bakery.patch import decide
from bakery.patch.decide import FAILED, PATCHED, UP_TO_DATE, PatchResult
from bakery.store.builds import BuildRecord


def rec(version: str, fp: str, created: str = "2026-01-01") -> BuildRecord:
    return BuildRecord(fingerprint=fp, name="web", version=version, image_id="sha256:" + fp,
                       created=created)


def test_baseline_is_the_newest_build_of_the_definition_version() -> None:
    newest_first = [rec("1.0.0+patch.2", "c"), rec("1.0.0+patch.1", "b"), rec("1.0.0", "a")]
    assert decide.choose_baseline(newest_first, "1.0.0", {"b", "c"}).fingerprint == "c"


def test_an_unverified_patch_is_not_the_baseline() -> None:
    newest_first = [rec("1.0.0+patch.2", "c"), rec("1.0.0+patch.1", "b"), rec("1.0.0", "a")]
    assert decide.choose_baseline(newest_first, "1.0.0", {"b"}).fingerprint == "b"
    assert decide.choose_baseline(newest_first, "1.0.0", set()).fingerprint == "a"


def test_an_unverified_plain_build_still_counts() -> None:
    assert decide.choose_baseline([rec("1.0.0", "a")], "1.0.0", set()).fingerprint == "a"


def test_builds_of_other_versions_are_not_the_baseline() -> None:
    newest_first = [rec("1.1.0", "x"), rec("1.0.0+patch.1", "b"), rec("1.0.0", "a")]
    assert decide.choose_baseline(newest_first, "1.1.0", set()).fingerprint == "x"
    assert decide.choose_baseline(newest_first, "2.0.0", set()) is None
    assert decide.choose_baseline([], "1.0.0", set()) is None


def test_definition_drift_ignores_the_version() -> None:
    recorded = {"name": "web", "version": "1.0.0+patch.1", "packages": ["nginx"]}
    assert not decide.definition_drifted(recorded, {**recorded, "version": "1.0.0"})
    assert decide.definition_drifted(recorded, {**recorded, "packages": ["nginx", "curl"]})
    assert not decide.definition_drifted(None, {"name": "web"})


def test_a_stored_definition_equals_its_live_form() -> None:
    # The build record holds JSON: tuples (healthcheck command, argv) come back as lists.
    live = {"name": "x", "version": "1.0.0", "healthcheck": {"command": ("test", "-s", "/f")},
            "cmd": ("sleep", "infinity")}
    stored = json.loads(json.dumps(live))
    assert not decide.definition_drifted(stored, live)


def test_production_needs_yes() -> None:
    assert decide.is_production("production")
    assert decide.is_production("prod")
    assert decide.is_production("prod-eu")
    assert not decide.is_production("staging")
    assert not decide.is_production("product-demo")


def test_a_base_with_the_same_packages_is_kept() -> None:
    old = [Package("bash", "5.2", ""), Package("libc6", "2.36-9", "")]
    assert decide.keep_previous_base(old, list(old))
    assert not decide.keep_previous_base(old, [Package("bash", "5.2", ""),
                                               Package("libc6", "2.36-9+deb12u1", "")])
    assert not decide.keep_previous_base([], old)


def test_report_lists_old_new_changes_and_verification_per_image() -> None:
    changes = decide.change_dicts([PackageChange("bakery-hello", "1", "2"),
                                   PackageChange("curl", None, "7.88")])
    results = [
        PatchResult("web", PATCHED, "1.0.0", "a" * 64, "1.0.0+patch.1", "b" * 64, changes,
                    {"passed": True, "fingerprint": "b" * 64}),
        PatchResult("lb", UP_TO_DATE, "1.0.0", "c" * 64),
        PatchResult("db", FAILED, stage="baseline", error="no build of db 1.0.0 to patch"),
    ]
    report = json.loads(json.dumps(decide.report("run-1", results, [])))
    assert report["changed"] is True and report["failed"] is True
    web, lb, db = report["images"]
    assert web["old_version"] == "1.0.0" and web["new_version"] == "1.0.0+patch.1"
    assert web["changes"] == [{"name": "bakery-hello", "old": "1", "new": "2"},
                              {"name": "curl", "old": None, "new": "7.88"}]
    assert web["verification"]["passed"] is True
    assert lb["status"] == "up to date" and lb["new_version"] == "up to date"
    assert lb["verification"] is None and lb["changes"] == []
    assert db["status"] == "failed" and db["stage"] == "baseline"


def test_nothing_changed_is_not_a_failure() -> None:
    report = decide.report("r", [PatchResult("lb", UP_TO_DATE, "1.0.0", "c" * 64)], [])
    assert report["changed"] is False and report["failed"] is False


def test_change_lines() -> None:
    assert decide.format_change({"name": "p", "old": "1", "new": "2"}) == "p 1 -> 2"
    assert decide.format_change({"name": "p", "old": None, "new": "2"}) == "+ p 2"
    assert decide.format_change({"name": "p", "old": "1", "new": None}) == "- p 1"
