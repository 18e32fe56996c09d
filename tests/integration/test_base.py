"""bakery base against the real engine: the base exists, starts, and a second run is a no-op."""

from __future__ import annotations

from click.testing import CliRunner

from bakery.cli import main
from bakery.engine import labels


def test_base_image_runs_and_carries_its_manifest(base_image, docker_engine):
    image = docker_engine.images.get(base_image.tag)
    found = image.labels
    assert found[labels.BASE_REF] == "debian:bookworm"
    assert found[labels.BASE_SUITE] == "bookworm"
    assert "apt=" in found[labels.BASE_MANIFEST] and "dpkg=" in found[labels.BASE_MANIFEST]
    out = docker_engine.containers.run(base_image.tag, ["cat", "/etc/debian_version"], remove=True)
    assert out.decode().startswith("12.")


def test_second_base_run_is_a_no_op(base_image, project):
    result = CliRunner().invoke(main, ["--project", str(project.root), "base", "debian:bookworm",
                                       "--json"])
    assert result.exit_code == 0, result.output
    assert '"created": false' in result.output
    assert base_image.image_id in result.output


def test_base_without_registry_or_bootstrap_is_a_clear_error(docker_engine, project):
    result = CliRunner().invoke(main, ["--project", str(project.root), "base",
                                       "no-such-distro:1"])
    assert result.exit_code == 1
    assert "can only bootstrap debian:<suite>" in result.output
