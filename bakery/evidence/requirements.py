"""What a rollout definition's ``requires:`` demands of an image, and what is missing.

Called by the rollout before any change. Reads only the project's keys and the evidence
files; the build record says which image (digest) is about to run.
"""

from __future__ import annotations

from bakery.definitions.rollout import RolloutDefinition
from bakery.errors import BakeryError, RolloutError
from bakery.evidence import envelopes
from bakery.evidence.keys import PublicKey, project_keys
from bakery.project import Project
from bakery.store.builds import BuildRecord


def _envelopes(project: Project, rec: BuildRecord, keys: list[PublicKey]) -> list[envelopes.Checked]:
    folder = envelopes.evidence_dir(project.artifacts_dir, rec.name, rec.version)
    want = rec.image_id if ":" in rec.image_id else f"sha256:{rec.image_id}"
    out = []
    for path in envelopes.files(folder):
        checked = envelopes.check(path, keys)
        if want not in {d for _, d in checked.digests()}:
            checked.problems.append(f"is about another image, not {want[:19]}…")
        out.append(checked)
    return out


def _find(found: list[envelopes.Checked], kind: str, signers: list[str]) -> tuple[
        envelopes.Checked | None, str]:
    """The first good envelope of ``kind`` signed by every key in ``signers``; else why not."""
    candidates = [c for c in found if c.kind == kind]
    if not candidates:
        return None, f"no {kind} attestation"
    reasons = []
    for c in candidates:
        missing = [s for s in signers if s not in c.signed_by]
        if c.problems:
            reasons.append(f"{c.path.name}: {'; '.join(c.problems)}")
        elif missing:
            reasons.append(f"{c.path.name}: not signed by {', '.join(missing)}")
        else:
            return c, ""
    return None, "; ".join(reasons)


def check_requirements(project: Project, defn: RolloutDefinition, rec: BuildRecord) -> list[str]:
    """Each requirement of ``defn.requires`` that ``rec``'s evidence does not meet, in words;
    [] when there is nothing to demand or everything is there."""
    req = defn.requires
    if not req.demands_evidence:
        return []
    where = f"{rec.name} {rec.version} (fp-{rec.fingerprint[:12]})"
    try:
        keys = project_keys(project)
    except BakeryError as exc:
        return [f"trusted keys unreadable: {exc}"]
    missing: list[str] = []
    unknown = [k for k in req.signed_by if k not in keys]
    missing += [f"signed_by {k}: no public key keys/{k}.pub in the project" for k in unknown]
    if not keys:
        return missing + [f"signed evidence for {where}: the project has no keys/*.pub"]
    signers = [k for k in req.signed_by if k in keys]
    found = _envelopes(project, rec, list(keys.values()))
    # Every signed evidence needs a provenance first: it says which build this image is.
    _, why = _find(found, "provenance", signers)
    if why:
        missing.append(f"signed provenance for {where}" + (f" by {', '.join(signers)}" if signers
                                                           else "") + f": {why}")
    if req.verified:
        env, why = _find(found, "verification", signers)
        if env is None:
            missing.append(f"a signed verification of {where}: {why}")
        elif env.predicate.get("passed") is not True:
            counts = env.predicate.get("counts") or {}
            missing.append(f"a passed verification of {where}: it failed "
                           f"({counts.get('failed', 0)} failed, {counts.get('error', 0)} errors)")
    if req.policy == "pass":
        env, why = _find(found, "policy", signers)
        if env is None:
            missing.append(f"a signed policy result for {where}: {why}")
        elif env.predicate.get("result") != "pass":
            denied = [d.get("message", "") for d in env.predicate.get("denials") or []]
            missing.append(f"policy pass for {where}: denied ({'; '.join(denied)})")
    return missing


def require_evidence(project: Project, defn: RolloutDefinition, rec: BuildRecord) -> None:
    """Hook for the rollout, before any change: raise RolloutError naming what is missing."""
    missing = check_requirements(project, defn, rec)
    if missing:
        raise RolloutError(f"{defn.environment} requires evidence that {rec.name} {rec.version} "
                           f"(fp-{rec.fingerprint[:12]}) lacks: " + "; ".join(missing))
