"""Verified images into the registry under an immutable tag, and the check a host's pull must
pass.

The tag is ``fp-<the whole fingerprint>``: one tag names one set of inputs forever, so nothing
that pulls by it can be handed other content by a later push of the same name. Hosts never pull
by tag anyway: ``ensure_pushed`` answers ``host:port/repo@sha256:<manifest digest>`` and hosts
pull that; after the pull the host's image id (the digest of the image's config, which names
every layer by its digest) must be the verified build's id, or the host is refused
(``check_pulled``).
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

import docker
import docker.errors
import httpx

from bakery.definitions.targets import RegistrySpec
from bakery.engine.client import engine
from bakery.errors import EngineError, RolloutError
from bakery.registry import server, tls

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])
_PUSH_LOCK = threading.Lock()  # one push of one image at a time from this process


def repository(image_name: str) -> str:
    return f"bakery/{image_name}"


def immutable_tag(fingerprint: str) -> str:
    return f"fp-{fingerprint}"


def digest_ref(address: str, image_name: str, digest: str) -> str:
    """``host:port/bakery/NAME@sha256:...``: what hosts pull. Pure."""
    return f"{address}/{repository(image_name)}@{digest}"


def check_pulled(host: str, ref: str, have_id: str | None, want_id: str) -> None:
    """RolloutError unless the host's image (pulled by ``ref``) is the verified build. Pure."""
    if have_id is None:
        raise RolloutError(f"{host}: pulling {ref} left no image there; refusing that host")
    if have_id != want_id:
        raise RolloutError(f"{host}: {ref} is image {have_id[:19]} there, not the verified build "
                           f"{want_id[:19]}: the registry holds other content under that tag; refusing "
                           "that host")


def remote_digest(local: str, image_name: str, fingerprint: str, ca: Path,
                  timeout: float = 10.0) -> str | None:
    """The manifest digest the registry holds for the image's immutable tag; None when it has none."""
    url = f"https://{local}/v2/{repository(image_name)}/manifests/{immutable_tag(fingerprint)}"
    try:
        r = httpx.head(url, headers={"Accept": MANIFEST_TYPES}, timeout=timeout,
                       verify=ssl.create_default_context(cafile=str(ca)))
    except httpx.HTTPError as exc:
        raise EngineError(f"the registry at {local} does not answer: {exc}") from exc
    if r.status_code == 404:
        return None
    if r.status_code != 200 or not r.headers.get("Docker-Content-Digest"):
        raise EngineError(f"the registry at {local} answered {r.status_code} for {url}")
    return r.headers["Docker-Content-Digest"]


def push(client: docker.DockerClient, local: str, image_name: str, fingerprint: str, image_id: str) -> str:
    """Tag the local image for the registry, push it, drop the extra tag; the manifest digest."""
    repo = f"{local}/{repository(image_name)}"
    tag = immutable_tag(fingerprint)
    try:
        client.images.get(image_id).tag(repo, tag)
    except docker.errors.ImageNotFound:
        raise EngineError(f"{image_name} ({image_id[:19]}) is not on this machine's engine") from None
    digest, error = None, None
    try:
        for event in client.api.push(repo, tag, stream=True, decode=True):
            if "error" in event:
                error = event.get("error")
            digest = (event.get("aux") or {}).get("Digest", digest)
    finally:
        try:
            client.images.remove(f"{repo}:{tag}", noprune=True)
        except docker.errors.APIError:
            pass
    if error or not digest:
        raise EngineError(f"pushing {image_name} to {local} failed: {error or 'no digest reported'}")
    return digest


def ensure_pushed(state_dir: Path, spec: RegistrySpec, image_name: str, fingerprint: str, image_id: str,
                  client: docker.DockerClient | None = None, on_push=None) -> str:  # noqa: ANN001
    """The image in the running registry (pushed only when the registry lacks its tag) as the
    hosts pull it: ``spec.address/bakery/NAME@sha256:...``. The caller has checked the image is
    verified. EngineError when the registry is not running or its certificate does not cover
    ``spec.host``."""
    st = server.running(state_dir, client)
    files = tls.files(state_dir)
    if spec.host not in st.names:
        raise EngineError(f"the registry's certificate does not cover {spec.host} (it covers "
                          f"{', '.join(st.names) or 'nothing'}); run `bakery registry up` again")
    with _PUSH_LOCK:
        digest = remote_digest(st.local, image_name, fingerprint, files.ca_cert)
        if digest is None:
            if on_push is not None:
                on_push()
            digest = push(client or engine(), st.local, image_name, fingerprint, image_id)
    return digest_ref(spec.address, image_name, digest)
