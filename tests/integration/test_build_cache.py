"""The shared package cache (images/aptcache) on the real engine: builds route apt through it,
and it leaves no trace in what they build; without it, the same definition gives the same
fingerprint and the build says it went to the mirror directly.

The cache container is shared by every project on the engine and reused while it runs (that
is its point), so the tests leave it running; `bakery cache prune` removes it.
"""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
from click.testing import CliRunner

from bakery.build import cache
from bakery.build.docker_builder import read_manifest
from bakery.cli import main
from bakery.store import builds
from bakery.store.db import open_store

pytestmark = pytest.mark.docker

# Strings that would show the cache's address left behind. The package step's command (in the
# history) names the variable it reads, ${HTTP_PROXY:-}, never an address; env, labels and
# /etc/apt must not even name a proxy.
TRACES = (f":{cache.PORT}", "172.17.")


@pytest.fixture
def name(docker_engine, base_image):
    made = f"c{uuid.uuid4().hex[:10]}"
    yield made
    for image in docker_engine.images.list(name=f"bakery/{made}"):
        docker_engine.images.remove(image.id, force=True)


def bakery(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_image(project, name: str) -> None:
    folder = project.images_dir / name
    folder.mkdir(parents=True)
    (folder / "image.yaml").write_text(textwrap.dedent(f"""\
        name: {name}
        version: 0.1.0
        base: debian:bookworm
        packages: [hello]
        run:
          - hello > /greeting
          # How many sockets listen on the cache's port (0C46 = 3142) in this step's network
          # namespace: the cache's own when the build ran in its namespace, none on a bridge.
          - awk '$2 ~ /:0C46$/ && $4 == "0A"' /proc/net/tcp /proc/net/tcp6 | wc -l > /listening
        cmd: [cat, /greeting]
        """))


def listening(docker_engine, image_id: str) -> int:
    return int(docker_engine.containers.run(image_id, ["cat", "/listening"], remove=True))


def assert_no_trace(docker_engine, image_id: str) -> None:
    """No proxy in the image's history, config (env, labels) or /etc/apt, nor in the env its
    container starts with."""
    history = json.dumps(docker_engine.api.history(image_id)).lower()
    config = docker_engine.images.get(image_id).attrs["Config"]
    shown = json.dumps({"env": config.get("Env"), "labels": config.get("Labels")}).lower()
    inside = docker_engine.containers.run(
        image_id, ["/bin/sh", "-c", "env; grep -rin proxy /etc/apt; true"], remove=True).decode().lower()
    for trace in (*TRACES, "proxy"):
        if trace != "proxy":
            assert trace not in history, f"{trace!r} in the history: {history}"
        assert trace not in shown, f"{trace!r} in env or labels: {shown}"
        assert trace not in inside, f"{trace!r} inside the image: {inside}"


def test_builds_go_through_the_cache_and_leave_no_trace(project, name, docker_engine, monkeypatch):
    monkeypatch.delenv(cache.MODE_ENV, raising=False)
    # A stopped cache (an engine restart, a `docker stop`) is started again by the next build.
    bakery("cache", "start")
    docker_engine.containers.get(cache.CONTAINER).stop(timeout=1)
    assert json.loads(bakery("cache", "status", "--json").stdout)["running"] is False
    write_image(project, name)
    cached = bakery("build", name)
    assert cached.exit_code == 0, cached.output
    assert "starting the package cache" in cached.output
    assert "apt through the package cache at http://" in cached.output
    image = docker_engine.images.get(f"bakery/{name}:0.1.0")
    fingerprint = image.labels["io.bakery.fingerprint"]
    assert_no_trace(docker_engine, image.id)
    # The manifest came from the build's own output (no "reading installed packages" step)
    # and is exactly what the image's dpkg status file says.
    assert "reading installed packages" not in cached.output
    conn = open_store(project)
    try:
        recorded = builds.get(conn, fingerprint).manifest
    finally:
        conn.close()
    assert list(recorded) == read_manifest(image.id)
    assert any(p.name == "hello" for p in recorded)
    assert docker_engine.containers.run(image.id, remove=True) == b"Hello, world!\n"
    assert listening(docker_engine, image.id) >= 1  # the steps ran in the cache's namespace
    state = json.loads(bakery("cache", "status", "--json").stdout)
    assert state["running"] and state["files"] >= 1  # hello's .deb, at least, is in it now

    # The same definition without the cache: built again from the mirror, same fingerprint.
    for tag in image.tags:
        docker_engine.images.remove(tag)
    monkeypatch.setenv(cache.MODE_ENV, "off")
    direct = bakery("build", name)
    assert direct.exit_code == 0, direct.output
    assert "package cache off (BAKERY_APT_CACHE=off): apt goes to the mirror directly" in direct.output
    again = docker_engine.images.get(f"bakery/{name}:0.1.0")
    assert again.labels["io.bakery.fingerprint"] == fingerprint
    assert_no_trace(docker_engine, again.id)
    assert listening(docker_engine, again.id) == 0  # a sandbox of its own on the default bridge


def test_packer_builds_go_through_the_cache_and_leave_no_trace(project, name, docker_engine,
                                                               monkeypatch):
    monkeypatch.delenv(cache.MODE_ENV, raising=False)
    write_image(project, name)
    result = bakery("build", "--builder", "packer", name)
    assert result.exit_code == 0, result.output
    assert "apt through the package cache at http://" in result.output
    image = docker_engine.images.get(f"bakery/{name}:0.1.0")
    assert_no_trace(docker_engine, image.id)
    assert docker_engine.containers.run(image.id, remove=True) == b"Hello, world!\n"
