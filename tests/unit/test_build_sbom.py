"""The CycloneDX SBOM made from a package manifest."""

import json

from bakery.build.sbom import (
    PENDING_IMAGE_ID,
    describes,
    make_bom,
    render_early,
    render_sbom,
    sbom_path,
    write_sbom,
)
from bakery.packages import Package

PKGS = [Package("nginx-light", "1.22.1-9+deb12u1", "all"), Package("nginx", "1.22.1-9+deb12u1", "amd64")]


def test_components_are_debian_packages_with_purls_and_the_image_is_the_subject():
    doc = json.loads(render_sbom(make_bom("web", "1.0.0", "a" * 64, "sha256:i", PKGS)))
    assert doc["bomFormat"] == "CycloneDX"
    purls = {c["name"]: c["purl"] for c in doc["components"]}
    assert purls["nginx"] == "pkg:deb/debian/nginx@1.22.1-9%2Bdeb12u1?arch=amd64"
    assert {c["version"] for c in doc["components"]} == {"1.22.1-9+deb12u1"}
    subject = doc["metadata"]["component"]
    assert (subject["name"], subject["version"], subject["type"]) == ("bakery/web", "1.0.0", "container")
    root = next(d for d in doc["dependencies"] if d["ref"] == subject["bom-ref"])
    assert len(root["dependsOn"]) == 2


def test_serial_number_follows_the_fingerprint():
    one = make_bom("web", "1.0.0", "a" * 64, "sha256:i", PKGS).serial_number
    assert one == make_bom("web", "1.0.0", "a" * 64, "sha256:j", []).serial_number
    assert one != make_bom("web", "1.0.0", "b" * 64, "sha256:i", PKGS).serial_number


def test_write_and_describes(tmp_path):
    path = write_sbom(tmp_path, "web", "1.0.0", "a" * 64, "sha256:i", PKGS)
    assert path == sbom_path(tmp_path, "web", "1.0.0") == tmp_path / "web/1.0.0/sbom.cdx.json"
    assert describes(path, "a" * 64)
    assert not describes(path, "b" * 64)
    assert not describes(tmp_path / "missing.json", "a" * 64)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_an_sbom_rendered_early_is_the_one_written_with_the_image_id_filled_in(tmp_path):
    render_early("web", "1.0.0", "c" * 64, sorted(PKGS))
    early = write_sbom(tmp_path / "early", "web", "1.0.0", "c" * 64, "sha256:real", tuple(sorted(PKGS)))
    late = write_sbom(tmp_path / "late", "web", "1.0.0", "c" * 64, "sha256:real", PKGS)
    def content(path):  # all but the moment cyclonedx stamps it with
        doc = json.loads(path.read_text())
        doc["metadata"].pop("timestamp")
        return doc

    assert content(early) == content(late)
    assert PENDING_IMAGE_ID not in early.read_text() and "sha256:real" in early.read_text()


def test_an_early_sbom_of_other_packages_is_not_used(tmp_path):
    render_early("web", "1.0.0", "d" * 64, [PKGS[0]])  # the build's final list differs
    path = write_sbom(tmp_path, "web", "1.0.0", "d" * 64, "sha256:real", PKGS)
    assert len(json.loads(path.read_text())["components"]) == 2
