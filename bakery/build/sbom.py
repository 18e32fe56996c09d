"""A CycloneDX SBOM of an image's Debian packages (cyclonedx-python-lib does the format).

Pure apart from ``write_sbom``: the document is made from the manifest stored with the
build record, so an SBOM can be written again without the engine.
"""

from __future__ import annotations

import json
import threading
import uuid
import warnings
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from bakery.packages import Package

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom
    from packageurl import PackageURL

# cyclonedx is imported inside the functions that need it: it costs ~0.2s at start-up,
# and a no-op build (which only checks that the SBOM is there) should not pay for it.

SBOM_NAME = "sbom.cdx.json"
# A fixed namespace so that the same image always gets the same serial number.
SERIAL_NAMESPACE = uuid.UUID("6f1c2a52-55d4-4c1e-9a55-6261b6b5e3a1")


def preload() -> threading.Thread:
    """Import the SBOM libraries (about 0.1 s) in a thread while the engine builds, so writing
    the SBOM after a build does not wait for them. Returns the thread (a daemon)."""

    def load() -> None:
        import cyclonedx.model.bom  # noqa: F401
        import cyclonedx.model.component  # noqa: F401
        import cyclonedx.output.json  # noqa: F401
        import packageurl  # noqa: F401

    thread = threading.Thread(target=load, name="bakery-sbom-preload", daemon=True)
    thread.start()
    return thread


#: Stands for the image id in an SBOM rendered before the engine has named the image.
PENDING_IMAGE_ID = "sha256:bakery-pending-image-id"
_early: dict[tuple[str, tuple[Package, ...]], Future[str]] = {}
_early_lock = threading.Lock()


def render_early(name: str, version: str, fingerprint: str, packages: list[Package]) -> None:
    """Render the SBOM in a thread while the engine runs the steps after the last RUN (the
    package list is known then; only the image id is not): ``write_sbom`` takes it when its
    packages are these, which spares the ~50 ms cyclonedx takes after the build."""
    key = (fingerprint, tuple(packages))
    future: Future[str] = Future()

    def render() -> None:
        try:
            bom = make_bom(name, version, fingerprint, PENDING_IMAGE_ID, key[1])
            future.set_result(render_sbom(bom))
        except Exception as exc:  # noqa: BLE001 - write_sbom renders it again and raises then
            future.set_exception(exc)

    with _early_lock:
        _early[key] = future
    threading.Thread(target=render, name="bakery-sbom-early", daemon=True).start()


def _rendered(name: str, version: str, fingerprint: str, image_id: str,
              packages: list[Package] | tuple[Package, ...]) -> str:
    with _early_lock:
        early = _early.pop((fingerprint, tuple(packages)), None)
    if early is not None and early.exception() is None:
        return early.result().replace(json.dumps(PENDING_IMAGE_ID), json.dumps(image_id))
    return render_sbom(make_bom(name, version, fingerprint, image_id, packages))


def package_purl(p: Package, distro: str = "debian") -> PackageURL:
    from packageurl import PackageURL

    qualifiers = {"arch": p.arch} if p.arch else {}
    return PackageURL(type="deb", namespace=distro, name=p.name, version=p.version,
                      qualifiers=qualifiers)


def make_bom(name: str, version: str, fingerprint: str, image_id: str,
             packages: list[Package] | tuple[Package, ...], created: str = "") -> Bom:
    """The image as the metadata component, each installed package as a component it depends on."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType

    image = Component(
        name=f"bakery/{name}", version=version, type=ComponentType.CONTAINER,
        bom_ref=f"image:{fingerprint}",
        properties=[Property(name="bakery:fingerprint", value=fingerprint),
                    Property(name="bakery:image_id", value=image_id)],
    )
    bom = Bom(serial_number=uuid.uuid5(SERIAL_NAMESPACE, fingerprint))
    bom.metadata.component = image
    components = []
    for p in sorted(packages):
        purl = package_purl(p)
        component = Component(name=p.name, version=p.version, type=ComponentType.LIBRARY,
                              purl=purl, bom_ref=purl.to_string())
        components.append(component)
        bom.components.add(component)
    bom.register_dependency(image, components)
    return bom


def render_sbom(bom: Bom) -> str:
    from cyclonedx.output.json import JsonV1Dot5

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns about optional fields; the output is valid
        return JsonV1Dot5(bom).output_as_string(indent=2)


def sbom_path(artifacts_dir: Path, name: str, version: str) -> Path:
    return artifacts_dir / name / version / SBOM_NAME


def write_sbom(artifacts_dir: Path, name: str, version: str, fingerprint: str, image_id: str,
               packages: list[Package] | tuple[Package, ...]) -> Path:
    """Write the SBOM atomically (a reader never sees half a file)."""
    path = sbom_path(artifacts_dir, name, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(_rendered(name, version, fingerprint, image_id, packages) + "\n")
    tmp.replace(path)
    return path


def describes(path: Path, fingerprint: str) -> bool:
    """Whether the SBOM at ``path`` is the one for this fingerprint."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    props = doc.get("metadata", {}).get("component", {}).get("properties", [])
    return {"name": "bakery:fingerprint", "value": fingerprint} in props
