"""The Packer template rendered from a definition, and reading Packer's machine output."""

from pathlib import Path

from bakery.build.packer_builder import artifact_id, ui_message
from bakery.build.packer_template import STEP_MARKER, commit_changes, provisioners, render_template
from bakery.definitions.image import FileSpec, HealthCheck, ImageDefinition


def web(tmp_path: Path) -> ImageDefinition:
    return ImageDefinition(
        name="web", version="1.0.0", base="debian:bookworm", folder=tmp_path,
        path=tmp_path / "image.yaml", packages=("nginx-light",),
        files=(FileSpec("files/nginx.conf", "/etc/nginx/nginx.conf", mode="0644", owner="root:root"),),
        run=('echo "$BAKERY_IMAGE_VERSION" > /v',), env={"GREETING": "hi there"}, user="www-data",
        workdir="/srv", ports=(8080,), cmd=("nginx", "-g", "daemon off;"),
        healthcheck=HealthCheck(http_path="/healthz", http_port=8080))


def test_steps_follow_the_dockerfile_order_with_markers(tmp_path):
    steps = provisioners(web(tmp_path))
    kinds = [s["type"] for s in steps]
    assert kinds == ["shell", "shell", "file", "shell", "shell"]
    assert "apt-get install" in steps[0]["inline"][1] and "nginx-light" in steps[0]["inline"][1]
    assert steps[1]["inline"][1] == "install -d /etc/nginx"
    assert steps[2] == {"type": "file", "source": str((tmp_path / "files/nginx.conf").resolve()),
                        "destination": "/etc/nginx/nginx.conf"}
    assert "chown root:root /etc/nginx/nginx.conf" in steps[3]["inline"][1]
    assert steps[4]["inline"][0].startswith(f"echo '{STEP_MARKER} 5/5 : RUN")
    assert "BAKERY_IMAGE_VERSION=1.0.0" in steps[4]["environment_vars"]
    assert "GREETING=hi there" in steps[4]["environment_vars"]


def test_commit_changes_carry_settings_and_escape_dollars_in_labels(tmp_path):
    changes = commit_changes(web(tmp_path), {"io.bakery.definition": '{"run":["echo $X"]}'},
                             base_cmd=["/bin/bash"])
    assert 'ENV BAKERY_IMAGE_VERSION="1.0.0"' in changes
    assert "USER www-data" in changes and "WORKDIR /srv" in changes and "EXPOSE 8080" in changes
    assert any(c.startswith("HEALTHCHECK ") for c in changes)
    assert 'CMD ["nginx", "-g", "daemon off;"]' in changes
    assert not any(c.startswith("ENTRYPOINT") for c in changes)
    assert 'LABEL io.bakery.definition="{\\"run\\":[\\"echo \\$X\\"]}"' in changes


def test_base_command_is_kept_when_the_definition_has_none(tmp_path):
    d = ImageDefinition(name="t", version="0.1.0", base="debian:bookworm", folder=tmp_path,
                        path=tmp_path / "image.yaml")
    assert commit_changes(d, {}, ["/bin/bash"])[-1] == 'CMD ["/bin/bash"]'


def test_template_runs_the_base_command_under_a_findable_name(tmp_path):
    t = render_template(web(tmp_path), "bakery/base/debian:bookworm", {}, container_name="bakery-packer-x")
    builder = t["builders"][0]
    assert builder["commit"] is True and builder["pull"] is False
    assert builder["run_command"] == ["-d", "-i", "-t", "--name", "bakery-packer-x", "--", "{{.Image}}"]


def test_machine_readable_lines():
    assert ui_message("1606,,ui,say,==> docker: a%!(PACKER_COMMA) b\\nc") == ("say", "==> docker: a, b\nc")
    assert ui_message("1606,docker,artifact,0,id,sha256:ab") is None
    out = "1,,ui,say,x\n1606754000,docker,artifact,0,id,sha256:abc123\n1,docker,artifact,0,end\n"
    assert artifact_id(out) == "sha256:abc123"
    assert artifact_id("nothing") is None
