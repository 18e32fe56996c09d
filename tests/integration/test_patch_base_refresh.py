"""Refreshing a base for a patch run keeps the previous image when its packages are the same.

Uses debian:trixie, which nothing else on the shared engine builds on, so re-tagging it
cannot change another build's fingerprint. Created here, removed here.
"""

from __future__ import annotations

import docker.errors

from bakery.engine.base import base_manifest, ensure_base, find_local, local_tag
from bakery.patch.bases import refresh_base

REF = "debian:trixie"


def test_refresh_keeps_a_base_whose_packages_did_not_change(docker_engine) -> None:
    existed = find_local(REF) is not None
    first = ensure_base(REF)

    def dangling() -> set[str]:  # this base's untagged images; other runs on the engine may leave some
        return {i.id for i in docker_engine.images.list(filters={"dangling": True,
                                                                  "label": f"io.bakery.base.ref={REF}"})}

    already = dangling()
    try:
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
    finally:
        if not existed:
            try:
                docker_engine.images.remove(local_tag(REF), force=True)
            except docker.errors.APIError:
                pass
