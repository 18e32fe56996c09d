"""Building many images: order of results, failures kept apart, parallel runs."""

import threading
import time
from pathlib import Path

import docker.errors

from bakery.build.docker_builder import BuildOutcome
from bakery.build.runner import build_many
from bakery.definitions.image import ImageDefinition
from bakery.errors import BuildError, EngineError
from bakery.project import Project
from bakery.store.builds import BuildRecord


def defn(name: str, packages: tuple[str, ...] = (), base: str = "debian:bookworm") -> ImageDefinition:
    return ImageDefinition(name=name, version="1.0.0", base=base, folder=Path("/x"),
                           path=Path("/x/image.yaml"), packages=packages)


def fake_builder(active: list[int], peak: list[int], lock: threading.Lock):
    def build(project, d, on_event=None, refresh=None, nocache=False):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        on_event("step", {"text": "1/1 RUN true"})
        time.sleep(0.05 if d.name != "slow" else 0.2)
        with lock:
            active[0] -= 1
        if d.name == "bad":
            raise BuildError("bad: build failed at Step 1/1\nexit code 3")
        if d.name == "gone":
            raise docker.errors.APIError("engine went away")
        rec = BuildRecord(fingerprint=d.name * 8, name=d.name, version=d.version, image_id="sha256:1",
                          created="now")
        return BuildOutcome(rec, up_to_date=False, seconds=0.1, tags=[])
    return build


def test_results_keep_definition_order_and_failures_do_not_stop_others():
    active, peak, lock = [0], [0], threading.Lock()
    events: list[tuple[str, str]] = []
    names = ["slow", "bad", "ok", "gone"]
    results = build_many(Project(Path("/x")), [defn(n) for n in names], fake_builder(active, peak, lock),
                         jobs=4, on_event=lambda k, data: events.append((data["image"], k)))
    assert [r.name for r in results] == names
    assert [r.ok for r in results] == [True, False, True, False]
    assert isinstance(results[1].error, BuildError)
    assert isinstance(results[3].error, EngineError)
    assert peak[0] > 1  # ran at the same time
    assert ("bad", "failed") in events and ("ok", "done") in events and ("slow", "step") in events


def test_one_job_runs_one_at_a_time():
    active, peak, lock = [0], [0], threading.Lock()
    results = build_many(Project(Path("/x")), [defn("a"), defn("b"), defn("c")],
                         fake_builder(active, peak, lock), jobs=1)
    assert peak[0] == 1 and all(r.ok for r in results)


def test_default_jobs_is_one_per_core_at_most_four() -> None:
    from bakery.build.runner import default_jobs

    assert [default_jobs(n) for n in (1, 2, 3, 4, 16)] == [1, 2, 3, 4, 4]
    assert default_jobs(0) == 1


def test_keyed_lock_lets_one_thread_per_key_in_and_other_keys_through() -> None:
    from bakery.engine.keyed_lock import KeyedLock

    lock, inside, peak, guard = KeyedLock(), {"a": 0, "b": 0}, {"a": 0, "b": 0}, threading.Lock()

    def work(key: str) -> None:
        with lock.hold(key):
            with guard:
                inside[key] += 1
                peak[key] = max(peak[key], inside[key])
            time.sleep(0.01)
            with guard:
                inside[key] -= 1

    threads = [threading.Thread(target=work, args=(k,)) for k in "aabbab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == {"a": 1, "b": 1}


def test_twins_start_after_the_first_image_of_their_package_set() -> None:
    from bakery.build.runner import start_order

    py, nginx = ("python3",), ("nginx-light",)
    defns = [defn("pyapp", py), defn("worker", py), defn("tiny"), defn("web", nginx),
             defn("more", ()), defn("web-bad", nginx), defn("trixie", py, base="debian:trixie")]
    # Images without packages share no layer: they keep their place among the firsts.
    assert [defns[i].name for i in start_order(defns)] == [
        "pyapp", "tiny", "web", "more", "trixie", "worker", "web-bad"]
    assert start_order([]) == []


def test_build_many_starts_twins_last_and_still_answers_in_the_given_order() -> None:
    started: list[str] = []

    def builder(project, d, on_event=None, refresh=None, nocache=False):
        started.append(d.name)
        rec = BuildRecord(fingerprint=d.name * 8, name=d.name, version=d.version, image_id="sha256:1",
                          created="now")
        return BuildOutcome(rec, up_to_date=False, seconds=0.1, tags=[])

    py = ("python3",)
    results = build_many(Project(Path("/x")), [defn("a", py), defn("b", py), defn("c")], builder, jobs=1)
    assert [r.name for r in results] == ["a", "b", "c"]
    results = build_many(Project(Path("/x")), [defn("a", py), defn("b", py), defn("c")], builder, jobs=2)
    assert [r.name for r in results] == ["a", "b", "c"]
    assert started[3:] == ["a", "c", "b"] or started[3:] == ["c", "a", "b"]
