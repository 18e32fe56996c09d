"""bakery's registry on the real engine: `bakery registry up` (the image built and verified for
real, TLS from bakery's CA, reused when it runs as asked), `bakery push` (verified builds only,
an immutable tag, the digest printed), and storage that outlives `down` until `--purge`.

Rollouts through the registry to real SSH hosts are in test_hosts_rollout.py.
"""

from __future__ import annotations

import json
import ssl

import docker.errors
import httpx
import pytest

from bakery.build.docker_builder import build
from bakery.registry import server
from bakery.registry.push import remote_digest
from bakery.registry.tls import files
from bakery.store import verifications
from bakery.store.db import open_store
from tests.integration.rollout_support import bakery, free_port, mark_verified, scratch_project

pytestmark = pytest.mark.docker

NAME = "reg.bakery.test"


@pytest.fixture
def project(docker_engine, base_image, tmp_path):
    with scratch_project(docker_engine, tmp_path / "project", ("reg",)) as project:
        path = project.root / "rollouts" / "reg" / "web.yaml"
        path.write_text(path.read_text() + "targets:\n  hosts:\n    - {name: h1, address: 10.255.0.1}\n"
                        f"  registry:\n    address: {NAME}:{free_port()}\n")
        try:
            yield project
        finally:
            server.down(project.state_dir, purge=True)


def test_registry_up_serves_tls_from_bakerys_ca_push_and_down(project, docker_engine):
    up = bakery(project, "registry", "up", "--json")
    assert up.exit_code == 0, up.output
    st = json.loads(up.stdout)
    assert (st["state"], st["health"], st["reused"], st["names"]) == ("running", "healthy", False, [NAME])
    port = st["port"]
    rec = build(project, project.load_image("registry")).record
    conn = open_store(project)
    try:
        assert verifications.is_verified(conn, rec.fingerprint)  # verified for real before it ran
    finally:
        conn.close()
    ca = files(project.state_dir).ca_cert
    answer = httpx.get(f"https://127.0.0.1:{port}/v2/", timeout=10,
                       verify=ssl.create_default_context(cafile=str(ca)))
    assert answer.status_code == 200 and answer.headers["docker-distribution-api-version"] == "registry/2.0"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://127.0.0.1:{port}/v2/", timeout=10)  # not a publicly trusted certificate
    served = ssl.get_server_certificate(("127.0.0.1", port))
    assert served.strip() == files(project.state_dir).cert.read_text().strip()
    again = json.loads(bakery(project, "registry", "up", "--json").stdout)
    assert again["reused"] and again["port"] == port

    # Only a verified build is pushed; then under fp-<fingerprint>, and the digest is printed.
    web = build(project, project.load_image("web")).record
    refused = bakery(project, "push", "web:1.0.0")
    assert refused.exit_code == 1 and "has not passed verification" in refused.stderr
    mark_verified(project, web)
    pushed = json.loads(bakery(project, "push", "web:1.0.0", "--json").stdout)
    assert pushed["pushed"] and pushed["digest"].startswith("sha256:")
    assert pushed["tag"] == f"{NAME}:{port}/bakery/web:fp-{web.fingerprint}"
    assert pushed["ref"] == f"{NAME}:{port}/bakery/web@{pushed['digest']}"
    assert remote_digest(f"127.0.0.1:{port}", "web", web.fingerprint, ca) == pushed["digest"]
    plain = bakery(project, "push", "web")
    assert plain.exit_code == 0 and plain.stdout.strip().endswith(pushed["digest"])
    assert "already in the registry" in plain.stdout  # the tag is immutable: never pushed twice
    with pytest.raises(docker.errors.ImageNotFound):  # the push tag does not linger here
        docker_engine.images.get(f"127.0.0.1:{port}/bakery/web:fp-{web.fingerprint}")

    # down keeps the volume (and what was pushed); --purge removes it.
    assert bakery(project, "registry", "down").exit_code == 0
    assert json.loads(bakery(project, "registry", "status", "--json").stdout)["state"] == "absent"
    assert bakery(project, "push", "web").exit_code == 1  # "not running; start it with ..."
    assert bakery(project, "registry", "up").exit_code == 0
    assert remote_digest(f"127.0.0.1:{port}", "web", web.fingerprint, ca) == pushed["digest"]
    assert bakery(project, "registry", "down", "--purge").exit_code == 0
    with pytest.raises(docker.errors.NotFound):
        docker_engine.volumes.get(server.volume_name(project.state_dir))
