"""PackageLayerGate: a twin (same base, same package step) waits for the package layer being
made, only until the step after it starts, and nothing else ever waits."""

from __future__ import annotations

import threading
from pathlib import Path

from bakery.build.docker_builder import PackageLayerGate, PreparedBuild
from bakery.definitions.image import ImageDefinition

STEP = "RUN apt-get update -q && apt-get install -y less"


def prepared(name: str, base_id: str = "sha256:base", step: str | None = STEP) -> PreparedBuild:
    defn = ImageDefinition(name=name, version="1.0.0", base="debian:bookworm", folder=Path("/x"),
                           path=Path("/x/image.yaml"))
    lines = ["FROM bakery/base/debian:bookworm", *([step] if step else []), "SHELL [\"/bin/bash\"]",
             f"RUN echo {name}"]
    return PreparedBuild(defn, "bakery/base/debian:bookworm", base_id, name * 8, "\n".join(lines) + "\n")


def entered_in_thread(gate: PackageLayerGate) -> tuple[threading.Thread, threading.Event, list[str]]:
    inside, said = threading.Event(), []

    def enter() -> None:
        gate.enter(lambda kind, data: said.append(data["text"]))
        inside.set()

    thread = threading.Thread(target=enter, daemon=True)
    thread.start()
    return thread, inside, said


def test_a_twin_waits_until_the_step_after_the_package_step_starts() -> None:
    first = PackageLayerGate(prepared("a1"), nocache=False)
    first.enter(lambda kind, data: None)
    twin = PackageLayerGate(prepared("b1"), nocache=False)
    thread, inside, said = entered_in_thread(twin)
    assert not inside.wait(0.2)
    first.step_started(2)  # the package step itself: its layer is not made yet
    assert not inside.wait(0.2)
    first.step_started(3)
    assert inside.wait(5)
    assert said and "waiting for the package layer" in said[0]
    first.leave()  # a second leave, as the finally does: harmless
    twin.leave()
    thread.join(5)


def test_other_bases_other_packages_and_no_cache_builds_never_wait() -> None:
    holder = PackageLayerGate(prepared("a2"), nocache=False)
    holder.enter(lambda kind, data: None)
    try:
        for gate in (PackageLayerGate(prepared("b2", base_id="sha256:other"), nocache=False),
                     PackageLayerGate(prepared("c2", step="RUN apt-get install -y vim"), nocache=False),
                     PackageLayerGate(prepared("d2", step=None), nocache=False),
                     PackageLayerGate(prepared("e2"), nocache=True)):
            thread, inside, said = entered_in_thread(gate)
            assert inside.wait(5) and said == []
            gate.leave()
            thread.join(5)
    finally:
        holder.leave()


def test_a_failed_build_lets_its_twin_in() -> None:
    first = PackageLayerGate(prepared("a3"), nocache=False)
    first.enter(lambda kind, data: None)
    twin = PackageLayerGate(prepared("b3"), nocache=False)
    thread, inside, _ = entered_in_thread(twin)
    first.leave()  # the finally of a build that failed at its package step
    assert inside.wait(5)
    twin.leave()
    thread.join(5)
