"""bakery build against the real engine, on tiny images (no packages) with unique names.

What the issue asks, each as a test: a second build is a no-op, one changed byte
rebuilds, a late step reuses earlier layers, a failing step exits 1 and leaves no tag
and no container, the SBOM lists nginx, and diff shows a package change.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.engine import labels
from bakery.project import Project
from bakery.store import verifications
from bakery.store.db import connect

pytestmark = pytest.mark.docker


def write_image(project: Project, name: str, version: str = "0.1.0", run: list[str] | None = None,
                content: bytes = b"hello\n", packages: tuple[str, ...] = ()) -> Path:
    folder = project.images_dir / name
    (folder / "files").mkdir(parents=True, exist_ok=True)
    (folder / "files" / "a.txt").write_bytes(content)
    steps = run if run is not None else ["cp /opt/t/a.txt /opt/t/b.txt", "echo done > /opt/t/c.txt"]
    (folder / "image.yaml").write_text(textwrap.dedent(f"""\
        name: {name}
        version: {version}
        base: debian:bookworm
        packages: {json.dumps(list(packages))}
        files:
          - src: files/a.txt
            dest: /opt/t/a.txt
            mode: "0644"
        run: {json.dumps(steps)}
        cmd: [cat, /opt/t/b.txt]
        labels:
          org.opencontainers.image.title: tiny test image
          org.example.note: 'costs $HOME "and" \\ more'
        """))
    return folder


@pytest.fixture
def names(docker_engine, base_image):
    """Unique image names; every bakery/<name> image is removed afterwards."""
    made: list[str] = []

    def new() -> str:
        made.append(f"t{uuid.uuid4().hex[:10]}")
        return made[-1]

    yield new
    for name in made:
        for image in docker_engine.images.list(name=f"bakery/{name}"):
            docker_engine.images.remove(image.id, force=True)


def bakery(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def build_json(*names: str, extra: tuple[str, ...] = ()) -> dict:
    result = bakery("build", "--json", *extra, *names)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_second_build_is_a_noop_and_one_changed_byte_rebuilds(project, names, docker_engine):
    name = names()
    folder = write_image(project, name)
    first = build_json(name)["images"][0]
    assert first["ok"] and first["up_to_date"] is False
    image = docker_engine.images.get(first["image_id"])
    assert f"bakery/{name}:0.1.0" in image.tags
    assert f"bakery/{name}:fp-{first['fingerprint'][:12]}" in image.tags
    assert image.labels[labels.OCI_TITLE] == "tiny test image"  # the user's title wins
    assert image.labels[labels.FINGERPRINT] == first["fingerprint"]
    assert image.labels["org.example.note"] == 'costs $HOME "and" \\ more'  # read back literally
    assert json.loads(image.labels[labels.DEFINITION])["run"][0] == "cp /opt/t/a.txt /opt/t/b.txt"
    label_steps = [h for h in image.history() if "LABEL" in (h.get("CreatedBy") or "")]
    assert len(label_steps) == 1, label_steps  # one step for every label, not one step each

    again = bakery("build", name)
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output
    second = build_json(name)["images"][0]
    assert second["up_to_date"] is True
    assert second["image_id"] == first["image_id"]
    same = docker_engine.images.get(second["image_id"])
    assert same.attrs["Created"] == image.attrs["Created"]
    assert same.labels[labels.OCI_CREATED] == image.labels[labels.OCI_CREATED]

    (folder / "files" / "a.txt").write_bytes(b"hellO\n")
    changed = build_json(name)["images"][0]
    assert changed["up_to_date"] is False
    assert changed["fingerprint"] != first["fingerprint"]
    assert changed["image_id"] != first["image_id"]
    assert f"bakery/{name}:0.1.0" in docker_engine.images.get(changed["image_id"]).tags
    out = docker_engine.containers.run(changed["image_id"], remove=True)
    assert out == b"hellO\n"


def test_a_label_longer_than_a_dockerfile_line_still_reaches_the_image(project, names, docker_engine):
    """Labels go in LABEL lines, which hold 65,535 characters; a longer one (here 70,000, and the
    definition label that repeats it) goes beside the build as before, within the request's 1 MiB."""
    name = names()
    folder = write_image(project, name)
    text = (folder / "image.yaml").read_text()
    (folder / "image.yaml").write_text(text.replace("  org.opencontainers.image.title: tiny test image\n",
                                                    "  org.opencontainers.image.title: tiny test image\n"
                                                    f"  org.example.long: {'x' * 70_000}\n"))
    built = build_json(name)["images"][0]
    image = docker_engine.images.get(built["image_id"])
    assert image.labels["org.example.long"] == "x" * 70_000
    assert json.loads(image.labels[labels.DEFINITION])["labels"]["org.example.long"] == "x" * 70_000
    assert image.labels[labels.OCI_TITLE] == "tiny test image"


def test_a_changed_late_step_reuses_the_earlier_layers(project, names, docker_engine):
    name = names()
    write_image(project, name, run=["echo one > /opt/t/one", "echo two > /opt/t/two"])
    before = build_json(name)["images"][0]
    write_image(project, name, run=["echo one > /opt/t/one", "echo TWO > /opt/t/two"])
    after = build_json(name)["images"][0]
    old_layers = docker_engine.images.get(before["image_id"]).attrs["RootFS"]["Layers"]
    new_layers = docker_engine.images.get(after["image_id"]).attrs["RootFS"]["Layers"]
    assert len(old_layers) == len(new_layers)
    assert new_layers[:-1] == old_layers[:-1]  # base, COPY, chmod and the first step: from the cache
    assert new_layers[-1] != old_layers[-1]


def test_twins_built_at_once_make_their_package_layer_once(project, names, docker_engine):
    """Two images with the same base and packages, built together: the second waits for the
    first one's package layer and reuses it (apt and dpkg run once), and each gets its own
    later layers (issue 13)."""
    one, two = names(), names()
    write_image(project, one, packages=("less",))
    write_image(project, two, packages=("less",), content=b"two\n")
    result = bakery("build", "-j", "2", one, two)
    assert result.exit_code == 0, result.output
    assert "waiting for the package layer" in result.output
    layers = [docker_engine.images.get(f"bakery/{n}:0.1.0").attrs["RootFS"]["Layers"] for n in (one, two)]
    assert layers[0][:2] == layers[1][:2]  # the base and the package layer: one layer for both
    assert layers[0][2] != layers[1][2]  # COPY: each its own file
    for name in (one, two):
        out = docker_engine.containers.run(f"bakery/{name}:0.1.0", ["less", "--version"], remove=True)
        assert out.startswith(b"less ")
    listed = {i["name"]: i for i in json.loads(bakery("images", "--json").stdout)["images"]}
    # Each recorded with its own package manifest (printed by its own last RUN): the same list.
    assert listed[one]["packages"] == listed[two]["packages"] > 0


def test_a_failing_step_exits_1_shows_step_and_log_and_leaves_no_tag(project, names, docker_engine):
    name = names()
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    failing = f"echo {marker}-out; echo {marker}-err >&2; exit 3"
    write_image(project, name, run=["echo fine > /opt/t/fine", failing])
    result = bakery("build", name)
    assert result.exit_code == 1
    assert "exit code 3" in result.output
    assert f"{marker}-out" in result.output and f"{marker}-err" in result.output
    assert "Step" in result.output and failing.split(";")[0] in result.output
    assert "Traceback" not in result.output
    assert docker_engine.images.list(name=f"bakery/{name}") == []
    # The low-level list: containers.list() inspects each one and races other users' removals.
    left = [c for c in docker_engine.api.containers(all=True) if marker in c.get("Command", "")]
    assert left == []
    as_json = bakery("build", "--json", name)
    assert as_json.exit_code == 1
    doc = json.loads(as_json.stdout)
    assert doc["images"][0]["ok"] is False and "exit code 3" in doc["images"][0]["error"]
    conn = connect(project.db_path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM builds WHERE name = ?", (name,)).fetchone()[0] == 0
    finally:
        conn.close()


def test_parallel_builds_and_images_listing(project, names, docker_engine):
    one, two = names(), names()
    write_image(project, one)
    write_image(project, two, content=b"two\n")
    doc = build_json(one, two, extra=("-j", "2"))
    assert [i["name"] for i in doc["images"]] == [one, two]
    assert all(i["ok"] and not i["up_to_date"] for i in doc["images"])
    fp_one = doc["images"][0]["fingerprint"]
    conn = connect(project.db_path)
    try:
        verifications.record(conn, verifications.VerificationRecord(
            fp_one, f"bakery/{one}:0.1.0", True, "2026-01-01T00:00:00Z", 1.0))
    finally:
        conn.close()
    listed = json.loads(bakery("images", "--json").stdout)["images"]
    by_name = {i["name"]: i for i in listed}
    assert by_name[one]["verification"] == "passed"
    assert by_name[two]["verification"] == "not verified"
    assert by_name[one]["size"] > 0 and by_name[one]["in_engine"] is True
    table = bakery("images")
    assert one in table.output and "passed" in table.output


def probe_step(name: str, version: str) -> str:
    """Installs a one-file Debian package made on the spot: a package change without a mirror."""
    return (f"mkdir -p /tmp/p/DEBIAN && printf 'Package: {name}\\nVersion: {version}\\n"
            f"Architecture: all\\nMaintainer: t <t@example.org>\\nDescription: probe\\n' "
            f"> /tmp/p/DEBIAN/control && dpkg-deb -b /tmp/p /tmp/p.deb >/dev/null "
            f"&& dpkg -i /tmp/p.deb >/dev/null && rm -rf /tmp/p /tmp/p.deb")


def test_diff_shows_the_package_change_between_two_builds(project, names):
    name = names()
    pkg = f"bakery-probe-{name}"
    write_image(project, name, "0.1.0", run=[probe_step(pkg, "1.0")])
    build_json(name)
    write_image(project, name, "0.2.0", run=[probe_step(pkg, "1.1")])
    build_json(name)
    result = bakery("diff", name, "0.1.0", "0.2.0")
    assert result.exit_code == 0, result.output
    assert f"{pkg} 1.0 -> 1.1" in result.output
    doc = json.loads(bakery("diff", "--json", name, "0.1.0", "0.2.0").stdout)
    assert doc["changes"] == [{"name": pkg, "old": "1.0", "new": "1.1"}]
    unknown = bakery("diff", name, "0.1.0", "9.9.9")
    assert unknown.exit_code == 2
    assert "9.9.9" in unknown.output and "0.1.0, 0.2.0" in unknown.output


def test_web_sbom_lists_nginx_with_its_version(project):
    """Uses the real web image (its package layer is usually in the engine's cache)."""
    doc = build_json("web")["images"][0]
    sbom_path = Path(doc["sbom"])
    assert sbom_path == project.artifacts_dir / "web" / "1.0.0" / "sbom.cdx.json"
    sbom = json.loads(sbom_path.read_text())
    nginx = [c for c in sbom["components"] if c["name"] == "nginx"]
    assert len(nginx) == 1 and nginx[0]["version"]
    assert nginx[0]["purl"].startswith("pkg:deb/debian/nginx@")
    assert sbom["metadata"]["component"]["name"] == "bakery/web"
    conn = connect(project.db_path)
    try:
        row = conn.execute("SELECT manifest, sbom_path FROM builds WHERE fingerprint = ?",
                           (doc["fingerprint"],)).fetchone()
    finally:
        conn.close()
    manifest = {p["name"]: p["version"] for p in json.loads(row["manifest"])}
    assert manifest["nginx"] == nginx[0]["version"]
    assert row["sbom_path"] == str(sbom_path)
