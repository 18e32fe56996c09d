"""`bakery patch` against a local apt repository: version 1 of a package is baked in,
version 2 is published, the probe sees it pending and patch makes one new image with the
changelog `bakery-hello 1 -> 2`; a second patch's probe finds nothing pending and says
"up to date" without building anything, and `--rebuild` builds a candidate and discards it.

The repository is a folder served over HTTP on the engine's bridge gateway, so build
containers reach it; apt reads it as a flat repository (`deb [trusted=yes] http://gw:port/ ./`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import ipaddress
import json
import os
import secrets
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker.errors
import pytest

from bakery.build.fingerprint import image_repository
from bakery.project import Project
from bakery.store import builds, patches
from bakery.store.db import connect

PACKAGE = "bakery-hello"
BAKERY = str(Path(sys.executable).parent / "bakery")


def make_deb(folder: Path, version: str) -> Path:
    """A tiny arch-independent .deb holding /usr/share/bakery-hello/VERSION."""
    root = folder / f"build-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share/bakery-hello").mkdir(parents=True)
    (root / "usr/share/bakery-hello/VERSION").write_text(f"{version}\n")
    (root / "DEBIAN/control").write_text(
        f"Package: {PACKAGE}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: bakery tests <tests@bakery.invalid>\n"
        "Description: bakery patch test package\n")
    deb = folder / f"{PACKAGE}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def control_fields(deb: Path) -> str:
    out = subprocess.run(["dpkg-deb", "--field", str(deb)], check=True, capture_output=True,
                         text=True).stdout
    return out.strip()


def write_index(repo: Path) -> None:
    """Packages (+ .gz) and a Release with their hashes: what apt needs of a flat repository."""
    stanzas = []
    for deb in sorted(repo.glob("*.deb")):
        data = deb.read_bytes()
        stanzas.append(f"{control_fields(deb)}\nFilename: ./{deb.name}\nSize: {len(data)}\n"
                       f"MD5sum: {hashlib.md5(data).hexdigest()}\n"
                       f"SHA256: {hashlib.sha256(data).hexdigest()}\n")
    packages = "\n".join(stanzas).encode()
    (repo / "Packages").write_bytes(packages)
    (repo / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    lines = ["Origin: bakery-tests", "Label: bakery-tests", "SHA256:"]
    for name in ("Packages", "Packages.gz"):
        blob = (repo / name).read_bytes()
        lines.append(f" {hashlib.sha256(blob).hexdigest()} {len(blob)} {name}")
    (repo / "Release").write_text("\n".join(lines) + "\n")


def bridge_gateway(client) -> str:
    config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return config["Gateway"]
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def apt_repo(tmp_path: Path, docker_engine) -> Iterator[tuple[Path, str]]:
    repo = tmp_path / "apt-repo"
    repo.mkdir()
    server = ThreadingHTTPServer((bridge_gateway(docker_engine), 0),
                                 functools.partial(_Quiet, directory=str(repo)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield repo, f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hello_image(project: Project, apt_repo, docker_engine) -> Iterator[str]:
    """An image definition that installs bakery-hello from the local repository."""
    repo, url = apt_repo
    name = f"patch-hello-{secrets.token_hex(3)}"
    folder = project.images_dir / name
    folder.mkdir()
    sources = "/etc/apt/sources.list.d/bakery-test.list"
    (folder / "image.yaml").write_text(f"""\
name: {name}
version: 1.0.0
base: debian:bookworm
run:
  - >-
    echo "deb [trusted=yes] {url} ./" > {sources}
    && apt-get update -q -o Dir::Etc::sourcelist={sources} -o Dir::Etc::sourceparts=-
    && apt-get install -y -q {PACKAGE}
    && rm -rf /var/lib/apt/lists/*
cmd: [sleep, infinity]
healthcheck:
  command: [test, -s, /usr/share/bakery-hello/VERSION]
  interval: 1s
  timeout: 2s
  retries: 3
""")
    # For `bakery verify`: a testinfra check of the installed package, beside the definition.
    (folder / "tests").mkdir()
    (folder / "tests" / "test_hello.py").write_text(
        "def test_bakery_hello_is_installed(host):\n"
        f"    assert host.package({PACKAGE!r}).is_installed\n"
        "    assert host.file('/usr/share/bakery-hello/VERSION').exists\n")
    try:
        yield name
    finally:
        repository = image_repository(name)
        for image in docker_engine.images.list(name=repository):
            for tag in image.tags:
                try:
                    docker_engine.images.remove(tag, force=True)
                except docker.errors.APIError:
                    pass


def read_file(client, image: str, path: str) -> str:
    container = client.containers.create(image, command=["true"], labels={"io.bakery.role": "build"})
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(tar.getmembers()[0])
            return member.read().decode() if member else ""
    finally:
        container.remove(force=True)


def bakery(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BAKERY, *args], capture_output=True, text=True, env=os.environ.copy(),
                          timeout=600)


def test_patch_picks_up_a_new_package_version_once(project: Project, apt_repo, hello_image,
                                                   docker_engine, base_image) -> None:
    repo, _ = apt_repo
    name = hello_image
    definition = (project.images_dir / name / "image.yaml").read_bytes()
    make_deb(repo, "1")
    write_index(repo)
    built = bakery("build", name, "--json")
    assert built.returncode == 0, built.stderr
    assert read_file(docker_engine, f"bakery/{name}:1.0.0", "/usr/share/bakery-hello/VERSION") == "1\n"

    make_deb(repo, "2")
    write_index(repo)
    # --no-base-refresh: the base image is shared by everything on this engine; refreshing
    # it is covered by its own test. Packages are upgraded in the build either way.
    first = bakery("patch", name, "--json", "--no-base-refresh")
    assert first.returncode == 0, first.stdout + first.stderr
    # The probe (apt in a container of 1.0.0, the local repository direct) saw the upgrade.
    assert f"{name} probing 1.0.0 for pending upgrades" in first.stderr
    assert f"{PACKAGE} 1 -> 2" in first.stderr
    assert "rebuilding as 1.0.0+patch.1" in first.stderr
    report = json.loads(first.stdout)
    assert report["changed"] is True and report["failed"] is False
    [image] = report["images"]
    assert image["status"] == "patched"
    assert f"{PACKAGE} 1 -> 2" in image["probe"]
    assert image["old_version"] == "1.0.0"
    assert image["new_version"] == "1.0.0+patch.1"
    assert {"name": PACKAGE, "old": "1", "new": "2"} in image["changes"]
    assert image["verification"]["passed"] is True
    assert image["verification"]["fingerprint"] == image["new_fingerprint"]
    patched_tag = f"bakery/{name}:1.0.0_patch.1"
    assert read_file(docker_engine, patched_tag, "/usr/share/bakery-hello/VERSION") == "2\n"
    assert read_file(docker_engine, f"bakery/{name}:1.0.0", "/usr/share/bakery-hello/VERSION") == "1\n"

    def made() -> tuple[set[str], list[str]]:
        conn = connect(project.db_path)
        try:
            records = sorted(r.fingerprint for r in builds.find(conn, name))
        finally:
            conn.close()
        return {i.id for i in docker_engine.images.list(name=f"bakery/{name}")}, records

    before = made()
    second = bakery("patch", name, "--json", "--no-base-refresh")
    assert second.returncode == 0, second.stdout + second.stderr
    # The nightly case: the probe ran, found nothing, and no candidate was built.
    assert f"{name} probing 1.0.0+patch.1 for pending upgrades" in second.stderr
    assert f"{name} probe: no pending upgrades; no rebuild" in second.stderr
    assert "rebuilding as" not in second.stderr
    assert made() == before
    assert not docker_engine.containers.list(all=True, filters={"label": "io.bakery.role=patch-probe",
                                                                 "name": f"bakery-probe-{name}-"})
    report2 = json.loads(second.stdout)
    assert report2["changed"] is False and report2["failed"] is False
    [image2] = report2["images"]
    assert image2["status"] == "up to date"
    assert image2["new_version"] == "up to date"
    assert image2["old_version"] == "1.0.0+patch.1"
    assert image2["changes"] == []
    assert image2["probe"] == "probe: no pending upgrades; no rebuild"

    # --rebuild skips the probe: a candidate is built, found identical and discarded; the
    # human report says the same and nothing new is left.
    third = bakery("patch", name, "--no-base-refresh", "--rebuild")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "probing" not in third.stdout
    assert f"{name} rebuilding as 1.0.0+patch.2 with refreshed packages" in third.stdout
    assert f"{name} 1.0.0+patch.1 up to date" in third.stdout
    assert made()[1] == before[1]

    # At most one new image: the candidates of later runs left no tag and no record.
    tags = sorted(t for i in docker_engine.images.list(name=f"bakery/{name}") for t in i.tags)
    assert [t for t in tags if not t.split(":")[1].startswith("fp-")] == \
        [f"bakery/{name}:1.0.0", patched_tag]
    assert len([t for t in tags if t.split(":")[1].startswith("fp-")]) == 2
    conn = connect(project.db_path)
    try:
        assert sorted(r.version for r in builds.find(conn, name)) == ["1.0.0", "1.0.0+patch.1"]
        history = patches.history(conn, name)
    finally:
        conn.close()
    assert [h.status for h in history] == ["up to date", "up to date", "patched"]
    assert {"name": PACKAGE, "old": "1", "new": "2"} in history[2].changes
    assert history[2].verification and history[2].verification["passed"] is True
    # The definition file is never rewritten.
    assert (project.images_dir / name / "image.yaml").read_bytes() == definition
