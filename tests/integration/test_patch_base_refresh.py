"""Refreshing a base for a patch run keeps the previous image when its packages are the same.

Uses debian:trixie, which nothing else on the shared engine builds on, so re-tagging it
cannot change another build's fingerprint. Created here, removed here.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker.errors
import pytest

from bakery.engine.base import BaseImage, base_manifest, ensure_base, find_local, local_tag
from bakery.patch.bases import refresh_base, refresh_unless_current
from bakery.patch.probe import Prober

REF = "debian:trixie"


@pytest.fixture
def trixie(docker_engine) -> Iterator[BaseImage]:
    """The base, made available here; removed afterwards when this test made it."""
    existed = find_local(REF) is not None
    yield ensure_base(REF)
    if not existed:
        try:
            docker_engine.images.remove(local_tag(REF), force=True)
        except docker.errors.APIError:
            pass


def test_refresh_keeps_a_base_whose_packages_did_not_change(docker_engine, trixie) -> None:
    first = trixie

    def dangling() -> set[str]:  # this base's untagged images; other runs on the engine may leave some
        return {i.id for i in docker_engine.images.list(filters={"dangling": True,
                                                                  "label": f"io.bakery.base.ref={REF}"})}

    already = dangling()
    before = base_manifest(REF)
    refreshed = refresh_base(REF)
    assert refreshed.previous_id == first.image_id
    assert find_local(REF) == refreshed.image_id
    if refreshed.changes:
        # The mirror published updates between the two bootstraps: a new base, honestly.
        assert not refreshed.kept_previous
        assert refreshed.image_id != first.image_id
    else:
        assert refreshed.kept_previous
        assert refreshed.image_id == first.image_id
        assert base_manifest(REF) == before
        # The fresh, identical bootstrap was removed rather than left dangling.
        assert dangling() - already == set()


def test_a_base_with_nothing_pending_is_kept_without_a_bootstrap(docker_engine, project, trixie) -> None:
    """The probe asks apt in a container of the base itself; with nothing pending the base is
    not re-bootstrapped (no mmdebstrap), otherwise it is refreshed as above."""
    first = trixie
    events: list[str] = []
    got = refresh_unless_current(REF, Prober(project, "itest-probe", lambda k, d: None),
                                 lambda kind, data: events.append(data["text"]))
    assert got.previous_id == first.image_id
    probe_said = [e for e in events if e.startswith("probe")]
    assert len(probe_said) == 1, events
    if got.probed:
        assert probe_said[0] == "probe: no pending upgrades; base kept, no re-bootstrap"
        assert got.image_id == first.image_id == find_local(REF)
        assert got.kept_previous and got.changes == []
    else:
        # The mirror has updates the base lacks: named, then the base is refreshed.
        assert "pending upgrade(s)" in probe_said[0]
        assert find_local(REF) == got.image_id
    assert not docker_engine.containers.list(
        all=True, filters={"label": ["io.bakery.role=patch-probe", "io.bakery.patch.run=itest-probe"]})
