"""Ask apt, before any rebuild, whether an image (or a base) has upgrades pending (I/O).

One short-lived container per image, started from the image itself: its sources lists, pins
and dpkg database are exactly the image's, so ``apt-cache policy`` names the versions a patch
rebuild would install. apt reaches the base's mirror through the package cache
(build/cache.py), as a build's package step does; other sources (a repository a run step
added) go direct, as they do in that run step. The container runs as root with its own
command, and is removed whatever happens. pending.py reads the answer.

Any failure (no apt in the image, a source that does not answer, the image gone from the
engine) raises ProbeError; the runner then rebuilds as if there were no probe.
"""

from __future__ import annotations

import re
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

import docker.errors
import requests.exceptions

from bakery.build.docker_builder import package_cache
from bakery.engine import labels
from bakery.engine.base import local_tag, mirror
from bakery.engine.client import engine
from bakery.errors import BakeryError
from bakery.model.events import Sink
from bakery.packages import Package
from bakery.patch.pending import Verdict, parse_policy, pending_changes
from bakery.project import Project

ROLE = "patch-probe"
RUN_LABEL = f"{labels.PREFIX}.patch.run"
MARK = "@@bakery-probe-policy"
TIMEOUT = 300.0  # seconds for apt-get update and the policy query together
PARALLEL = 3  # probes at a time: most of one is apt waiting on the cache and the mirror
STALE = 2 * TIMEOUT  # a probe container older than this was left by a run that died

# --error-on=any: a source that fails to update is a failure, not a warning (apt >= 2.1;
# an older apt refuses the option, which is a failure too: the runner then rebuilds).
SCRIPT = f"""set -e
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
command -v apt-get >/dev/null && command -v dpkg-query >/dev/null || {{
  echo "no apt-get or dpkg-query in this image" >&2; exit 3; }}
apt-get update -qq --error-on=any -o Acquire::Retries=3 -o Acquire::Languages=none \\
  -o Debug::NoLocking=1 $BAKERY_PROBE_APT_OPTS
echo {MARK}
apt-cache policy $(dpkg-query -W -f='${{binary:Package}}\\n')
"""


class ProbeError(BakeryError):
    """The probe could not answer; the caller falls back to a full rebuild."""


def proxy_options(proxy: str | None, mirror_url: str) -> str:
    """apt options that send the mirror's host (alone) through the cache. Pure."""
    host = urlsplit(mirror_url).hostname
    if not proxy or not host or urlsplit(mirror_url).scheme != "http":
        return ""
    return f"-o Acquire::http::Proxy::{host}={proxy}"


def container_name(subject: str, run_id: str) -> str:
    """bakery-probe-<subject>-<run>-<token>: unique per probe, readable in `docker ps`. Pure."""
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", subject).strip("-") or "image"
    return f"bakery-probe-{slug[:60]}-{run_id[-6:]}-{secrets.token_hex(3)}"


def is_stale(created: str, now: datetime, after: float = STALE) -> bool:
    """Whether a container created at ``created`` (the engine's RFC 3339 time, nanoseconds and
    all) is older than ``after`` seconds. Pure; an unreadable time is not stale."""
    try:
        when = datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return False
    return (now - when).total_seconds() > after


def reap_stale() -> list[str]:
    """Remove probe containers a killed run left behind (kill -9 skips ``finally``); a live
    probe is never that old (its wait times out at TIMEOUT). Best effort; names removed."""
    removed = []
    now = datetime.now(UTC)
    try:
        for container in engine().containers.list(all=True,
                                                  filters={"label": f"{labels.ROLE}={ROLE}"}):
            if is_stale(container.attrs.get("Created", ""), now):
                container.remove(force=True)
                removed.append(container.name)
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        pass  # another run reaped it first, or the engine is busy: next run's turn
    return removed


def run_probe(image: str, subject: str, run_id: str, proxy: str | None,
              timeout: float = TIMEOUT) -> str:
    """Run the probe script in a throwaway container of ``image``; apt's policy text."""
    client = engine()
    container = None
    try:
        container = client.containers.create(
            image, command=[SCRIPT], entrypoint=["/bin/sh", "-c"], user="root",
            name=container_name(subject, run_id), network_mode="bridge",
            environment={"BAKERY_PROBE_APT_OPTS": proxy_options(proxy, mirror())},
            labels={labels.ROLE: ROLE, RUN_LABEL: run_id, labels.IMAGE_NAME: subject},
            healthcheck={"test": ["NONE"]})
        container.start()
        status = container.wait(timeout=timeout)
        out = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace").strip()
    except docker.errors.ImageNotFound as exc:
        raise ProbeError(f"image {image} is not on the engine") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ProbeError(f"the probe container failed: {exc}") from exc
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except docker.errors.DockerException:
                pass  # already gone
    code = status.get("StatusCode", -1)
    if code != 0 or MARK not in out:
        tail = " | ".join(err.splitlines()[-3:]) or "no output"
        raise ProbeError(f"apt in the probe exited {code}: {tail}")
    return out.split(MARK, 1)[1]


def _verdict(manifest: list[Package], text: str) -> Verdict:
    policies = parse_policy(text)
    if manifest and not policies:
        raise ProbeError("apt-cache policy listed no package")
    return pending_changes(manifest, policies)


class Prober:
    """Probes for one patch run: the package cache is looked up (or started) once, on the
    first probe, and every probe of the run shares it. ``ahead`` starts the probes of the
    images a run will patch side by side; ``close`` waits for any still running."""

    def __init__(self, project: Project, run_id: str, emit: Sink):
        self.project, self.run_id, self.emit = project, run_id, emit
        self._proxy: str | None = None
        self._asked = False
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[str, Future[Verdict]] = {}

    def proxy(self) -> str | None:
        if not self._asked:
            reap_stale()  # once per run, before its first probe
            self._proxy = package_cache(self.project,
                                        lambda kind, data: self.emit(kind, {"image": "", **data}))
            self._asked = True
        return self._proxy

    def ahead(self, images: list[tuple[str, str, list[Package]]]) -> None:
        """Start probing these images (id, name, manifest), PARALLEL at a time; ``image``
        then waits for its own answer instead of starting a probe."""
        if not images:
            return
        proxy = self.proxy()  # here, not in the threads: it may start the cache, and says so
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="probe")
        for image_id, name, manifest in images:
            if image_id not in self._ahead:
                self._ahead[image_id] = self._pool.submit(self._image, image_id, name, manifest,
                                                          proxy)
        self._pool.shutdown(wait=False)  # no more work; its threads finish what was submitted
        self._pool = None

    def close(self) -> None:
        """Drop probes nobody asked for: cancel those not started, wait for the running ones
        (each removes its container)."""
        for future in self._ahead.values():
            future.cancel()
        for future in self._ahead.values():
            if not future.cancelled():
                future.exception()
        self._ahead.clear()

    def image(self, image_id: str, name: str, manifest: list[Package]) -> Verdict:
        """Pending upgrades of the image ``image_id`` (recorded with ``manifest``)."""
        if image_id in self._ahead:
            return self._ahead.pop(image_id).result()
        return self._image(image_id, name, manifest, self.proxy())

    def _image(self, image_id: str, name: str, manifest: list[Package],
               proxy: str | None) -> Verdict:
        if not manifest:
            raise ProbeError("its build record has no package manifest")
        return _verdict(manifest, run_probe(image_id, name, self.run_id, proxy))

    def base(self, ref: str, manifest: list[Package]) -> Verdict:
        """Pending upgrades of the local base image for ``ref`` (its label's manifest)."""
        if not manifest:
            raise ProbeError("the base image carries no package manifest")
        return _verdict(manifest, run_probe(local_tag(ref), f"base-{ref}", self.run_id,
                                            self.proxy()))
