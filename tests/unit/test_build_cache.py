"""The package cache's decisions: when builds use it, what reaches apt, and that a cache that
cannot run never stops a build (it goes to the mirror directly and says so). The engine parts
are replaced by fakes here; tests/integration/test_build_cache.py runs the real cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.build import cache
from bakery.build import fingerprint as fpmod
from bakery.build.dockerfile import render
from bakery.build.packer_template import provisioners, render_template
from bakery.definitions.image import ImageDefinition
from bakery.errors import BakeryError
from bakery.project import Project

URL = "http://172.17.0.9:3142"


def web(tmp_path: Path) -> ImageDefinition:
    return ImageDefinition(name="web", version="1.0.0", base="debian:bookworm", folder=tmp_path,
                           path=tmp_path / "image.yaml", packages=("nginx-light",),
                           run=("true",), cmd=("nginx",))


@pytest.mark.parametrize("value,on", [(None, True), ("auto", True), ("off", False), ("0", False),
                                      ("OFF", False), ("no", False)])
def test_the_cache_is_on_unless_turned_off(monkeypatch, value, on):
    if value is None:
        monkeypatch.delenv(cache.MODE_ENV, raising=False)
    else:
        monkeypatch.setenv(cache.MODE_ENV, value)
    assert cache.enabled() is on


def test_only_the_predefined_upper_case_proxy_argument_reaches_the_docker_build():
    # The steps join the cache's network namespace, where it answers on loopback; without the
    # cache the build keeps the engine's default network.
    assert cache.engine_build_options(True) == {"network_mode": "container:bakery-aptcache",
                                                "buildargs": {"HTTP_PROXY": "http://127.0.0.1:3142"}}
    assert cache.engine_build_options(False) == {}


def test_neither_the_dockerfile_nor_the_fingerprint_knows_about_the_cache(tmp_path):
    defn = web(tmp_path)
    text = render(defn, "bakery/base/debian:bookworm")
    assert "3142" not in text and "172.17" not in text
    # only the package step hands the (build-time) address to apt; the run steps never see it
    [package] = [line for line in text.splitlines() if "apt-get" in line]
    assert 'http_proxy="${HTTP_PROXY:-}"' in package
    assert all("proxy" not in line.lower() for line in text.splitlines() if line != package)
    # the fingerprint's inputs are the definition, files, base and recipe: a cache is none of them
    assert fpmod.fingerprint(defn, {}, "sha256:base") == fpmod.fingerprint(defn, {}, "sha256:base")


def test_packer_gives_the_proxy_to_the_package_step_only(tmp_path):
    steps = provisioners(web(tmp_path), proxy=URL)
    assert f"HTTP_PROXY={URL}" in steps[0]["environment_vars"]
    assert all(f"HTTP_PROXY={URL}" not in s.get("environment_vars", []) for s in steps[1:])
    template = render_template(web(tmp_path), "bakery/base/debian:bookworm", {}, proxy=URL)
    assert not any("proxy" in change.lower() for change in template["builders"][0]["changes"])
    assert all("HTTP_PROXY" not in v for s in provisioners(web(tmp_path))
               for v in s.get("environment_vars", []))


class Events(list):
    def __call__(self, kind, data):
        self.append((kind, data["text"]))


def test_off_goes_to_the_mirror_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.MODE_ENV, "off")
    events = Events()
    assert cache.endpoint(Project(tmp_path), lambda d: "img", events) is None
    assert events == [("info", "package cache off (BAKERY_APT_CACHE=off): apt goes to the mirror "
                               "directly")]


def test_a_running_cache_is_reused_and_nothing_is_built(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.MODE_ENV, raising=False)
    monkeypatch.setattr(cache, "find", lambda: cache.Endpoint("bakery-aptcache", "172.17.0.9"))
    monkeypatch.setattr(cache, "start", lambda image: pytest.fail("started a second cache"))
    events = Events()
    assert cache.endpoint(Project(tmp_path), lambda d: pytest.fail("built"), events) == URL
    assert events == [("info", f"apt through the package cache at {URL}")]


def test_a_stopped_cache_is_started_from_the_projects_image(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.MODE_ENV, raising=False)
    started = []
    monkeypatch.setattr(cache, "find", lambda: None)
    monkeypatch.setattr(cache, "cache_image", lambda project, build_image: "sha256:acng")
    monkeypatch.setattr(cache, "start",
                        lambda image: started.append(image) or cache.Endpoint("c", "172.17.0.9"))
    assert cache.endpoint(Project(tmp_path), lambda d: "x", Events()) == URL
    assert started == ["sha256:acng"]


def test_a_cache_that_cannot_start_never_stops_the_build(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.MODE_ENV, raising=False)
    monkeypatch.setattr(cache, "find", lambda: None)

    def broken(project, build_image):
        raise BakeryError("the package cache exited: no space left")

    monkeypatch.setattr(cache, "cache_image", broken)
    events = Events()
    assert cache.endpoint(Project(tmp_path), lambda d: "x", events) is None
    assert events[-1] == ("info", "package cache unavailable (the package cache exited: no space "
                                  "left): apt goes to the mirror directly")


def test_without_a_definition_or_an_image_there_is_no_cache(tmp_path, monkeypatch):
    class NoImages:
        class images:  # noqa: N801 - the docker SDK's attribute name
            @staticmethod
            def list(filters):
                return []

    monkeypatch.setattr(cache, "engine", lambda: NoImages)
    with pytest.raises(BakeryError, match="no images/aptcache"):
        cache.cache_image(Project(tmp_path), lambda d: "x")


class _Running:
    class image:  # noqa: N801 - the docker SDK's attribute name
        id = "sha256:old"


def _with_cache_definition(tmp_path: Path) -> Project:
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[2] / "images" / "aptcache",
                    tmp_path / "images" / "aptcache")
    return Project(tmp_path)


def test_a_changed_cache_definition_restarts_the_cache_once_its_image_is_built(tmp_path, monkeypatch):
    project = _with_cache_definition(tmp_path)
    running = cache.Endpoint("bakery-aptcache", "172.17.0.9")
    monkeypatch.setattr(cache, "_container", lambda: _Running)
    assert cache.newer_image(project, running, lambda defn: "sha256:new") == "sha256:new"
    assert cache.newer_image(project, running, lambda defn: "sha256:old") is None  # the same image
    assert cache.newer_image(project, running, lambda defn: None) is None  # not built: keep it
    assert cache.newer_image(Project(tmp_path / "other"), running, lambda defn: "x") is None
