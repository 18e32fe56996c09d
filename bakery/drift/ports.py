"""What drift needs from the world: an ``Inspector`` that reads a member and an image.

Adapters: ``rollout/adapters/inspect_docker.py`` over a docker SDK client (the local engine, or
an SSH host's client); unit tests pass a fake. Reading only: an inspector never changes a member.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bakery.drift.facts import ImageFacts, MemberFacts


class Inspector(Protocol):
    def image(self, image_id: str) -> ImageFacts | None:
        """The image's config, or None when the engine does not have it."""

    def member(self, container_id: str, compare: Callable[[MemberFacts], list[str]],
               image_id: str) -> MemberFacts:
        """What the member is: config, its filesystem changes, its processes (when it runs).
        ``compare(facts)`` names the changed files whose content is to be compared with
        ``image_id``'s copy. A member that cannot be read comes back with ``error`` set."""
