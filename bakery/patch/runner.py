"""`bakery patch`: rebuild images on refreshed packages and keep only what changed (I/O).

For each image: find the current image (decide.choose_baseline), build a candidate with
``1.2.3+patch.N`` and a refresh stamp (apt-get update && upgrade in a cache-missing
package step, so every later layer rebuilds too), compare package manifests, then
either discard the candidate ("up to date") or verify it, record the changelog and,
when asked, roll it out.

Before any of that, a probe (probe.py: apt-cache policy in a throwaway container of the
current image) asks apt whether anything is pending; when nothing is, the image is up to date
without a rebuild. A probe that cannot answer means a rebuild, as does ``rebuild=True``
(`bakery patch --rebuild`).
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import docker.errors

from bakery.build.docker_builder import BuildOutcome, build
from bakery.definitions.image import ImageDefinition
from bakery.engine.base import find_local
from bakery.errors import BakeryError, RolloutError, UsageError
from bakery.model.events import Sink, quiet
from bakery.packages import Package, diff_manifests
from bakery.patch import candidate, decide, versions
from bakery.patch.bases import BaseRefresh, refresh_unless_current
from bakery.patch.decide import FAILED, PATCHED, UP_TO_DATE, PatchResult
from bakery.patch.pending import describe
from bakery.patch.probe import ProbeError, Prober
from bakery.project import Project
from bakery.rollout.service import rollout
from bakery.store import builds, locks, patches, verifications
from bakery.store.db import open_store
from bakery.store.url import state_url
from bakery.verify.runner import verify

# on_event(kind, {"image": name, "text": ...}); kind is "step", "log", "info" (as in build) or
# "stage"; the one event shape (model/events.py).
PatchEvents = Sink


@dataclass
class PatchRun:
    run_id: str
    results: list[PatchResult] = field(default_factory=list)
    bases: list[BaseRefresh] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.results)

    def as_json(self) -> dict[str, Any]:
        return decide.report(self.run_id, self.results, [b.as_json() for b in self.bases])


class _Failed(Exception):
    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage

PATCH_LOCK = "patch"


def new_run_id() -> str:
    """The refresh stamp: unique per run, so the package step's cache can never match."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def roll_out_patched(project: Project, service: str, env: str, image: str, version: str) -> Any:
    """Roll ``image:version`` out as ``service`` in ``env`` with its canary strategy.

    A failed canary (traffic already back on blue) is a failure of this patch run."""
    outcome = rollout(project, env, service, image=f"{image}:{version}", canary=True)
    if outcome.status == "failed":
        raise RolloutError(f"canary of {image} {version} failed: {outcome.reason}")
    return {"status": outcome.status, "rollout_id": outcome.rollout_id, "url": outcome.url,
            "verdicts": outcome.verdicts}


def services_in(project: Project, env: str) -> dict[str, list[str]]:
    """image name -> services that run it in ``env`` (from rollouts/<env>/*.yaml)."""
    paths = [p for p in project.rollout_paths() if p.parent.name == env]
    if not paths:
        raise UsageError(f"--rollout {env}: no rollout definitions under rollouts/{env}/")
    found: dict[str, list[str]] = {}
    for path in paths:
        rollout = project.load_rollout(env, path.stem)
        found.setdefault(rollout.image_name, []).append(rollout.service)
    return found


def patch(project: Project, names: list[str] | None = None, *, refresh_bases: bool = True,
          rollout_env: str | None = None, yes: bool = False, rebuild: bool = False,
          on_event: PatchEvents | None = None) -> PatchRun:
    """Patch ``names`` (all images when None). Bad input raises before anything changes.

    ``rebuild``: skip the probe and build a candidate of every image (and re-bootstrap every
    base), the behaviour before the probe existed."""
    emit = on_event or quiet
    defns = project.load_images(names)
    services: dict[str, list[str]] = {}
    if rollout_env is not None:
        if decide.is_production(rollout_env) and not yes:
            raise UsageError(f"--rollout {rollout_env}: patch touches production only with --yes")
        services = services_in(project, rollout_env)
    run = PatchRun(new_run_id())
    # One patch run at a time per project: two would pick the same patch number.
    with locks.Held(state_url(project), PATCH_LOCK, purpose=f"bakery patch {run.run_id}",
                    on_takeover=lambda text: emit("info", {"image": "", "text": text})):
        prober = None if rebuild else Prober(project, run.run_id, emit)
        _patch_all(project, defns, run, refresh_bases, rollout_env, services, emit, prober)
    return run


def _patch_all(project: Project, defns: list[ImageDefinition], run: PatchRun, refresh_bases: bool,
               rollout_env: str | None, services: dict[str, list[str]], emit: PatchEvents,
               prober: Prober | None = None) -> None:
    base_errors: dict[str, str] = {}
    if refresh_bases:
        for ref in sorted({d.base for d in defns}):
            emit("stage", {"image": ref, "text": "refreshing base"})
            try:
                run.bases.append(refresh_unless_current(ref, prober, emit))
            except BakeryError as exc:
                base_errors[ref] = str(exc)
    conn = open_store(project)
    try:
        if prober is not None:
            prober.ahead(_probe_targets(conn, [d for d in defns if d.base not in base_errors]))
        for defn in defns:
            result = PatchResult(defn.name, FAILED)
            try:
                if defn.base in base_errors:
                    raise _Failed("base", f"refreshing {defn.base} failed: {base_errors[defn.base]}")
                _patch_one(project, conn, defn, run.run_id, result, emit, prober)
                if result.status == PATCHED and rollout_env is not None:
                    _rollout(project, defn.name, services.get(defn.name, []), rollout_env, result, emit)
            except _Failed as exc:
                result.status, result.stage, result.error = FAILED, exc.stage, str(exc)
            except BakeryError as exc:
                result.status, result.error = FAILED, str(exc)
                result.stage = result.stage or "build"
            run.results.append(result)
            patches.record(conn, patches.PatchRecord(
                run_id=run.run_id, name=result.name, status=result.status, created=_now(),
                old_version=result.old_version, old_fingerprint=result.old_fingerprint,
                new_version=result.new_version, new_fingerprint=result.new_fingerprint,
                changes=result.changes, verification=result.verification,
                rollout=result.rollout, error=result.error))
    finally:
        if prober is not None:
            prober.close()
        conn.close()


def _on_its_base(defn: ImageDefinition, baseline: builds.BuildRecord) -> bool:
    """Whether the local base is the one the current image was built on; False when the engine
    cannot say (a rebuild then reports why). Otherwise a rebuild starts from other packages."""
    try:
        base_now = find_local(defn.base)
    except docker.errors.DockerException:
        return False
    return base_now is not None and (not baseline.base_id or base_now == baseline.base_id)


def _baseline(conn: Any, defn: ImageDefinition) -> tuple[list[builds.BuildRecord],
                                                          builds.BuildRecord | None]:
    """The image's build records (newest first) and the current image among them."""
    records = builds.find(conn, defn.name)
    verified = {r.fingerprint for r in records if verifications.is_verified(conn, r.fingerprint)}
    return records, decide.choose_baseline(records, defn.version, verified)


def _probe_targets(conn: Any, defns: list[ImageDefinition]) -> list[tuple[str, str, list[Package]]]:
    """(image id, name, manifest) of the current images _patch_one will probe: built on the
    local base, from the definition as it is now. The probes run side by side ahead."""
    targets = []
    for defn in defns:
        _, baseline = _baseline(conn, defn)
        if baseline is None or decide.definition_drifted(baseline.definition, defn.normalised()):
            continue
        if not _on_its_base(defn, baseline):
            continue
        targets.append((baseline.image_id, defn.name, list(baseline.manifest)))
    return targets


def _patch_one(project: Project, conn: Any, defn: ImageDefinition, run_id: str,
               result: PatchResult, emit: PatchEvents, prober: Prober | None = None) -> None:
    records, baseline = _baseline(conn, defn)
    if baseline is None:
        raise _Failed("baseline", f"no build of {defn.name} {defn.version} to patch: "
                      f"run `bakery build {defn.name}` first")
    result.old_version, result.old_fingerprint = baseline.version, baseline.fingerprint
    if decide.definition_drifted(baseline.definition, defn.normalised()):
        where = defn.path.relative_to(project.root) if defn.path.is_relative_to(project.root) \
            else defn.path
        raise _Failed("baseline", f"{where} changed since {defn.name} {baseline.version} was "
                      f"built; build it (with a new version) before patching")
    if prober is not None and nothing_pending(prober, defn, baseline, result, emit):
        result.status = UP_TO_DATE
        return
    new_version = versions.next_patch_version(
        defn.version, [r.version for r in records] + patches.versions(conn, defn.name))
    emit("stage", {"image": defn.name, "text": f"rebuilding as {new_version} with refreshed packages"})
    try:
        outcome = build(project, dataclasses.replace(defn, version=new_version),
                        on_event=lambda kind, data: emit(kind, {"image": defn.name, **data}), refresh=run_id)
    except BakeryError as exc:
        raise _Failed("build", str(exc)) from exc
    changes = diff_manifests(list(baseline.manifest), list(outcome.record.manifest))
    if not changes:
        candidate.discard(project, conn, outcome)
        result.status = UP_TO_DATE
        return
    result.new_version, result.new_fingerprint = new_version, outcome.record.fingerprint
    result.changes = decide.change_dicts(changes)
    emit("stage", {"image": defn.name, "text": f"{len(changes)} package change(s); verifying {new_version}"})
    _verify(project, defn.name, new_version, outcome, result)
    result.status = PATCHED


def nothing_pending(prober: Prober, defn: ImageDefinition, baseline: builds.BuildRecord,
                    result: PatchResult, emit: PatchEvents) -> bool:
    """True when the probe shows the current image has no pending upgrade (no rebuild needed).

    False (rebuild) when something is pending, when the local base is not the one the image
    was built on (a rebuild would start from other packages), and when the probe cannot
    answer; the event (and ``result.probe``) says which."""
    def say(text: str) -> None:
        result.probe = text
        emit("info", {"image": defn.name, "text": text})

    if not _on_its_base(defn, baseline):
        say(f"{defn.base} is not the base {baseline.version} was built on: rebuilding, no probe")
        return False
    emit("stage", {"image": defn.name, "text": f"probing {baseline.version} for pending upgrades"})
    try:
        verdict = prober.image(baseline.image_id, defn.name, list(baseline.manifest))
    except ProbeError as exc:
        say(f"probe failed ({exc}); falling back to a full rebuild")
        return False
    if verdict.up_to_date:
        result.probe = f"probe: {describe(verdict)}; no rebuild"
        emit("stage", {"image": defn.name, "text": result.probe})
        return True
    if verdict.conclusive:
        say(f"probe: {describe(verdict)}")
    else:
        say(f"probe inconclusive ({describe(verdict)}); falling back to a full rebuild")
    return False


def _verify(project: Project, name: str, version: str, outcome: BuildOutcome,
            result: PatchResult) -> None:
    try:
        report = verify(project, name, version)
    except BakeryError as exc:
        result.verification = {"passed": False, "fingerprint": outcome.record.fingerprint,
                               "error": str(exc)}
        raise _Failed("verify", f"{name} {version}: verification could not run: {exc}") from exc
    result.verification = {"passed": bool(report.passed), "fingerprint": report.fingerprint,
                           "checks": _jsonable(getattr(report, "checks", None))}
    if report.fingerprint != outcome.record.fingerprint:
        result.verification["passed"] = False
        raise _Failed("verify", f"{name} {version}: verify checked fp-{report.fingerprint[:12]}, "
                      f"not the patched fp-{outcome.record.short_fingerprint}")
    if not report.passed:
        raise _Failed("verify", f"{name} {version} failed verification; it is kept (tag "
                      f"fp-{outcome.record.short_fingerprint}) but is not the current image")


def _rollout(project: Project, name: str, service_names: list[str], env: str, result: PatchResult,
             emit: PatchEvents) -> None:
    result.rollout = []
    for service in service_names:
        text = f"rolling {result.new_version} out to {env}/{service} (canary)"
        emit("stage", {"image": name, "text": text})
        entry: dict[str, Any] = {"env": env, "service": service, "version": result.new_version}
        try:
            entry["result"] = _jsonable(roll_out_patched(project, service, env, name, result.new_version))
            entry["ok"] = True
        except BakeryError as exc:
            entry["ok"], entry["error"] = False, str(exc)
        result.rollout.append(entry)
    failed = [e for e in result.rollout if not e["ok"]]
    if failed:
        raise _Failed("rollout", "; ".join(f"{e['env']}/{e['service']}: {e['error']}" for e in failed))
