"""The Packer builder (Debian's packer 1.6.6, docker builder) on a tiny image."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.engine import labels
from tests.integration.test_build_engine import write_image

pytestmark = pytest.mark.docker


@pytest.fixture
def name(docker_engine, base_image):
    made = f"p{uuid.uuid4().hex[:10]}"
    yield made
    for image in docker_engine.images.list(name=f"bakery/{made}"):
        docker_engine.images.remove(image.id, force=True)


def bakery(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_packer_builds_the_same_definition_with_the_same_labels_and_tags(project, name, docker_engine):
    step = 'cp /opt/t/a.txt /opt/t/b.txt && echo "$BAKERY_IMAGE_VERSION" >> /opt/t/b.txt'
    write_image(project, name, run=[step])
    result = bakery("build", "--builder", "packer", "--json", name)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["images"][0]
    assert doc["ok"] and doc["up_to_date"] is False
    image = docker_engine.images.get(doc["image_id"])
    assert f"bakery/{name}:0.1.0" in image.tags
    assert image.labels[labels.FINGERPRINT] == doc["fingerprint"]
    assert image.labels[labels.PREFIX + ".builder"] == "packer"
    assert image.labels[labels.OCI_TITLE] == "tiny test image"
    # The definition label keeps its $VAR text (docker commit would expand it if not escaped).
    assert "$BAKERY_IMAGE_VERSION" in image.labels[labels.DEFINITION]
    assert image.attrs["Config"]["Entrypoint"] is None
    assert docker_engine.containers.run(image.id, remove=True) == b"hello\n0.1.0\n"

    again = bakery("build", "--builder", "packer", "--json", name)
    assert json.loads(again.stdout)["images"][0]["up_to_date"] is True
    # Another recipe, another fingerprint: the docker builder does not take the Packer image.
    docker_doc = json.loads(bakery("build", "--json", name).stdout)["images"][0]
    assert docker_doc["up_to_date"] is False and docker_doc["fingerprint"] != doc["fingerprint"]


def test_packer_failure_names_the_step_and_leaves_no_tag_or_container(project, name, docker_engine):
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    write_image(project, name, run=["echo fine", f"echo {marker}; exit 4"])
    result = bakery("build", "--builder", "packer", name)
    assert result.exit_code == 1
    assert "exit code 4" in result.output and marker in result.output
    assert "RUN echo" in result.output
    assert docker_engine.images.list(name=f"bakery/{name}") == []
    assert docker_engine.api.containers(all=True, filters={"name": f"bakery-packer-{name}"}) == []
