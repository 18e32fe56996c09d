"""The patch runner's decision before a build: probe, then rebuild or not. Fakes stand in for
the engine (probe, build, base lookup); the store is the real SQLite one of a temp project."""

from __future__ import annotations

from typing import Any

import pytest

from bakery.errors import BakeryError
from bakery.packages import Package, PackageChange
from bakery.patch import bases, probe, runner
from bakery.patch.decide import FAILED, UP_TO_DATE, PatchResult
from bakery.patch.pending import Verdict
from bakery.project import Project
from bakery.store import builds
from bakery.store.db import open_store

BASE_ID = "sha256:base"
MANIFEST = (Package("bash", "5.2", "amd64"),)


class FakeProber:
    def __init__(self, verdict: Verdict | Exception):
        self.verdict = verdict
        self.calls: list[tuple[str, str]] = []

    def _answer(self) -> Verdict:
        if isinstance(self.verdict, Exception):
            raise self.verdict
        return self.verdict

    def image(self, image_id: str, name: str, manifest: list[Package]) -> Verdict:
        self.calls.append(("image", image_id))
        assert manifest == list(MANIFEST)
        return self._answer()

    def base(self, ref: str, manifest: list[Package]) -> Verdict:
        self.calls.append(("base", ref))
        return self._answer()


class Built(Exception):
    """Raised by the fake build: the runner went on to build a candidate."""


@pytest.fixture
def setup(project: Project, monkeypatch: pytest.MonkeyPatch):
    defn = project.load_image("web")
    conn = open_store(project)
    builds.record(conn, builds.BuildRecord(
        fingerprint="f" * 64, name="web", version=defn.version, image_id="sha256:web",
        created="2026-12-01T00:00:00.000000Z", base_id=BASE_ID, manifest=MANIFEST,
        definition=defn.normalised()))
    monkeypatch.setattr(runner, "find_local", lambda ref: BASE_ID)

    def fake_build(*args: Any, **kwargs: Any) -> Any:
        raise Built()

    monkeypatch.setattr(runner, "build", fake_build)
    events: list[tuple[str, str]] = []

    def run(prober: FakeProber | None) -> PatchResult:
        result = PatchResult("web", FAILED)
        runner._patch_one(project, conn, project.load_image("web"), "run-1", result,
                          lambda kind, data: events.append((kind, data["text"])), prober)
        return result

    yield run, events, monkeypatch
    conn.close()


def texts(events: list[tuple[str, str]]) -> str:
    return "\n".join(text for _, text in events)


def test_nothing_pending_is_up_to_date_without_a_build(setup) -> None:
    run, events, _ = setup
    prober = FakeProber(Verdict())
    result = run(prober)
    assert result.status == UP_TO_DATE
    assert result.new_version is None and result.changes == []
    assert prober.calls == [("image", "sha256:web")]
    assert ("stage", "probe: no pending upgrades; no rebuild") in events
    assert result.probe == "probe: no pending upgrades; no rebuild"
    assert result.as_json()["probe"] == result.probe


def test_pending_upgrades_go_on_to_the_candidate_build(setup) -> None:
    run, events, _ = setup
    prober = FakeProber(Verdict(pending=[PackageChange("bash", "5.2", "5.3")]))
    with pytest.raises(Built):
        run(prober)
    assert ("info", "probe: 1 pending upgrade(s): bash 5.2 -> 5.3") in events


def test_a_failed_probe_falls_back_to_the_build(setup) -> None:
    run, events, _ = setup
    with pytest.raises(Built):
        run(FakeProber(probe.ProbeError("apt in the probe exited 100: E: Failed to fetch")))
    assert "probe failed (apt in the probe exited 100: E: Failed to fetch); falling back to a " \
        "full rebuild" in texts(events)


def test_an_inconclusive_probe_falls_back_to_the_build(setup) -> None:
    run, events, _ = setup
    with pytest.raises(Built):
        run(FakeProber(Verdict(mismatched=["bash (recorded 5.2, apt says 5.1)"])))
    assert "probe inconclusive" in texts(events)


def test_another_base_than_the_image_was_built_on_means_a_build_without_probe(setup) -> None:
    run, events, monkeypatch = setup
    monkeypatch.setattr(runner, "find_local", lambda ref: "sha256:newer-base")
    prober = FakeProber(Verdict())
    with pytest.raises(Built):
        run(prober)
    assert prober.calls == []
    assert "is not the base 1.0.0 was built on: rebuilding, no probe" in texts(events)


def test_rebuild_skips_the_probe(setup) -> None:
    run, events, _ = setup
    with pytest.raises(Built):
        run(None)
    assert "probe" not in texts(events)


def test_a_drifted_definition_fails_before_any_probe(setup, project: Project) -> None:
    run, _, _ = setup
    path = project.images_dir / "web" / "image.yaml"
    path.write_text(path.read_text().replace("hello from bakery", "hello, drifted", 1))
    prober = FakeProber(Verdict())
    with pytest.raises(runner._Failed):
        run(prober)
    assert prober.calls == []


def test_a_base_with_nothing_pending_is_not_bootstrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bases, "find_local", lambda ref: "sha256:old")
    monkeypatch.setattr(bases, "base_manifest", lambda ref: list(MANIFEST))

    def no_refresh(ref: str) -> bases.BaseRefresh:
        raise AssertionError("refresh_base must not run")

    monkeypatch.setattr(bases, "refresh_base", no_refresh)
    events: list[tuple[str, dict]] = []
    got = bases.refresh_unless_current("debian:bookworm", FakeProber(Verdict()),
                                       lambda kind, data: events.append((kind, data)))
    assert (got.image_id, got.previous_id, got.kept_previous, got.probed) == \
        ("sha256:old", "sha256:old", True, True)
    assert got.as_json()["changed"] is False and got.as_json()["probed"] is True
    assert events[-1][1]["text"] == "probe: no pending upgrades; base kept, no re-bootstrap"


@pytest.mark.parametrize("verdict", [Verdict(pending=[PackageChange("bash", "5.2", "5.3")]),
                                     probe.ProbeError("no network")])
def test_a_base_with_pending_upgrades_or_a_failed_probe_is_refreshed(
        monkeypatch: pytest.MonkeyPatch, verdict: Verdict | Exception) -> None:
    monkeypatch.setattr(bases, "find_local", lambda ref: "sha256:old")
    monkeypatch.setattr(bases, "base_manifest", lambda ref: list(MANIFEST))
    fresh = bases.BaseRefresh("debian:bookworm", "sha256:new", "sha256:old", False)
    monkeypatch.setattr(bases, "refresh_base", lambda ref: fresh)
    assert bases.refresh_unless_current("debian:bookworm", FakeProber(verdict),
                                        lambda kind, data: None) is fresh
    # No prober (--rebuild) and no local base: refreshed without asking.
    assert bases.refresh_unless_current("debian:bookworm", None, lambda kind, data: None) is fresh
    monkeypatch.setattr(bases, "find_local", lambda ref: None)
    assert bases.refresh_unless_current("debian:bookworm", FakeProber(Verdict()),
                                        lambda kind, data: None) is fresh


def test_probe_helpers() -> None:
    assert probe.proxy_options("http://172.17.0.2:3142", "http://deb.debian.org/debian") == \
        "-o Acquire::http::Proxy::deb.debian.org=http://172.17.0.2:3142"
    assert probe.proxy_options(None, "http://deb.debian.org/debian") == ""
    assert probe.proxy_options("http://c:3142", "https://deb.debian.org/debian") == ""
    name = probe.container_name("base-debian:bookworm", "20261201T000000Z-abcdef")
    assert name.startswith("bakery-probe-base-debian-bookworm-abcdef-")
    assert isinstance(probe.ProbeError("x"), BakeryError)


def test_probes_ahead_run_side_by_side_and_answer_image(project: Project,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    answer = "bash:\n  Installed: 5.2\n  Candidate: 5.2\n  Version table:\n" \
             " *** 5.2 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n"
    both = threading.Barrier(2, timeout=10)  # only passes when two probes run at once
    ran: list[str] = []

    def fake_run(image: str, subject: str, run_id: str, proxy: str | None) -> str:
        ran.append(image)
        both.wait()
        return answer

    monkeypatch.setattr(probe, "run_probe", fake_run)
    monkeypatch.setattr(probe, "package_cache", lambda project, emit: "http://cache:3142")
    prober = probe.Prober(project, "run-1", lambda kind, data: None)
    prober.ahead([("sha256:a", "a", list(MANIFEST)), ("sha256:b", "b", list(MANIFEST))])
    assert prober.image("sha256:a", "a", list(MANIFEST)).up_to_date
    assert prober.image("sha256:b", "b", list(MANIFEST)).up_to_date
    assert sorted(ran) == ["sha256:a", "sha256:b"]
    prober.ahead([("sha256:c", "c", [])])
    prober.close()  # c's answer (an error: no manifest) is dropped, not raised
    with pytest.raises(probe.ProbeError, match="no package manifest"):
        prober.image("sha256:c", "c", [])


def test_only_old_probe_containers_are_stale() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, 15, 0, 0, tzinfo=UTC)
    assert probe.is_stale("2026-12-01T14:40:00.123456789Z", now)
    assert not probe.is_stale("2026-12-01T14:59:00.123456789Z", now)
    assert not probe.is_stale("", now) and not probe.is_stale("yesterday", now)
