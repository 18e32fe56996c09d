"""Signed evidence without an engine: keys, DSSE envelopes around in-toto Statements, what
`requires:` demands of them, and every way an envelope can fail (each named)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import bakery.cli  # noqa: F401 - registers the commands
import bakery.cli.evidence  # noqa: F401 - registers keys/evidence (until bakery.cli imports it)
from bakery.cli.app import main
from bakery.definitions.rollout import load_rollout
from bakery.errors import DefinitionError, RolloutError
from bakery.evidence import envelopes, record, statements
from bakery.evidence.keys import init_key, load_public, load_signer, project_keys
from bakery.evidence.requirements import check_requirements, require_evidence
from bakery.packages import Package
from bakery.project import Project
from bakery.store.builds import BuildRecord
from bakery.store.verifications import VerificationRecord

REC = BuildRecord(fingerprint="f" * 64, name="web", version="1.0.0", image_id="sha256:" + "a" * 64,
                  created="2026-01-01T00:00:00.000000Z", base_id="sha256:" + "b" * 64,
                  manifest=(Package("nginx-light", "1.22.1-9", "amd64"),),
                  definition={"name": "web", "version": "1.0.0", "base": "debian:bookworm"})

REQUIRES = """requires:
  signed_by: [release]
  verified: true
  policy: pass
"""


@pytest.fixture
def confdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config home outside the project (project_copy is tmp_path itself)."""
    return tmp_path_factory.mktemp("config")


@pytest.fixture
def keyed(project_copy: Path, confdir: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The example project with a release key; its private half under a private config dir."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(confdir))
    monkeypatch.delenv("BAKERY_SIGNING_KEY", raising=False)
    project = Project(project_copy)
    init_key(project, "release")
    return project


def test_keys_init_puts_the_public_key_in_the_project_and_the_private_key_outside(
        project_copy, confdir, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(confdir))
    monkeypatch.delenv("BAKERY_SIGNING_KEY", raising=False)
    result = CliRunner().invoke(main, ["--project", str(project_copy), "keys", "init",
                                       "--name", "release"])
    assert result.exit_code == 0, result.output
    public = project_copy / "keys/release.pub"
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    [private] = (confdir / "bakery/keys").iterdir()
    assert private.name == load_public(public).keyid + ".pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert not any("PRIVATE" in p.read_text(errors="ignore") for p in project_copy.rglob("*")
                   if p.is_file())
    again = CliRunner().invoke(main, ["--project", str(project_copy), "keys", "init",
                                      "--name", "release"])
    assert again.exit_code == 2 and "keys/release.pub already exists" in again.output


@pytest.mark.parametrize("inside", ["keys/secret.pem", ".bakery/secret.pem"])
def test_a_private_key_inside_the_project_or_state_folder_is_refused(project_copy, monkeypatch,
                                                                     inside):
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(project_copy / inside))
    result = CliRunner().invoke(main, ["--project", str(project_copy), "keys", "init"])
    assert result.exit_code == 2 and "refusing a private key" in result.output
    assert not (project_copy / inside).exists() and not (project_copy / "keys/project.pub").exists()


def test_bakery_signing_key_names_the_private_key_file(project_copy, confdir, monkeypatch):
    path = confdir / "elsewhere" / "release.pem"
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(confdir / "unused"))
    public, private = init_key(Project(project_copy), "release")
    assert private == path and path.is_file()
    found = load_signer(Project(project_copy))
    assert found is not None and found[0].keyid == public.keyid


def test_a_bad_public_key_is_bad_input_naming_the_file(project_copy):
    (project_copy / "keys").mkdir()
    (project_copy / "keys/broken.pub").write_text("not a key\n")
    with pytest.raises(DefinitionError, match=r"keys/broken.pub: not a PEM public key"):
        project_keys(Project(project_copy))


def write_all(project: Project) -> dict[str, Path]:
    vrec = VerificationRecord(REC.fingerprint, "bakery/web:fp-fff", True, "2026-01-01T00:00:01Z", 3.2,
                              {"counts": {"passed": 18, "failed": 0, "error": 0, "skipped": 1},
                               "checks": []})
    return {
        "provenance": record._sign_and_write(project, REC, "provenance.intoto.json",
                                             statements.provenance(REC, "images/web/image.yaml",
                                                                   "c" * 64, "bakery/base/debian:bookworm")),
        "verification": record.record_verification(project, REC, vrec),
        "policy": record.record_policy(project, REC, [], {"policy/a.rego": "package a\n"}),
        "rollout": record.record_rollout(project, REC, "production", "web", "promoted",
                                         "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z",
                                         [{"step": 1, "weight": 5, "requests": 120,
                                           "error_rate": 0.0, "p99_ms": 12.5, "passed": True}]),
    }


def test_each_attestation_is_an_in_toto_statement_in_a_signed_dsse_envelope(keyed):
    paths = write_all(keyed)
    keys = list(project_keys(keyed).values())
    for kind, path in paths.items():
        assert path.parent == keyed.artifacts_dir / "web" / "1.0.0"
        checked = envelopes.check(path, keys)
        assert checked.problems == [] and checked.signed_by == ["release"], kind
        assert checked.kind == kind
        assert checked.digests() == [("bakery/web:1.0.0", REC.image_id)]
    prov = envelopes.check(paths["provenance"], keys).statement
    assert prov["predicateType"] == "https://slsa.dev/provenance/v1"
    deps = prov["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert {"name": "base", "uri": "docker-image://bakery/base/debian:bookworm",
            "digest": {"sha256": "b" * 64}} in deps
    assert {"name": "nginx-light", "uri": "pkg:deb/debian/nginx-light@1.22.1-9?arch=amd64"} in deps
    assert prov["predicate"]["runDetails"]["builder"]["version"]["recipe"]
    verification = envelopes.check(paths["verification"], keys).predicate
    assert verification["passed"] is True and verification["counts"]["passed"] == 18


def flip_payload_byte(path: Path) -> None:
    data = json.loads(path.read_text())
    payload = bytearray(base64.b64decode(data["payload"]))
    index = payload.index(b"bakery/web") + len("bakery/")  # the JSON stays valid:
    payload[index] ^= 0x20                                   # bakery/web -> bakery/Web
    data["payload"] = base64.b64encode(bytes(payload)).decode()
    path.write_text(json.dumps(data))


def test_a_flipped_byte_a_wrong_key_and_an_unsigned_envelope_are_each_named(keyed, confdir):
    paths = write_all(keyed)
    keys = list(project_keys(keyed).values())
    flip_payload_byte(paths["policy"])
    assert envelopes.check(paths["policy"], keys).problems == [
        "signature by key release does not verify: the envelope was changed after signing"]
    raw = paths["rollout"].read_bytes()
    paths["rollout"].write_bytes(raw[:10] + b"#" + raw[11:])  # a byte of the JSON itself
    assert envelopes.check(paths["rollout"], keys).problems[0].startswith(
        "not a readable DSSE envelope")
    # another key pair: the signatures are by a key it does not know
    other_root = confdir / "other"
    (other_root / "images").mkdir(parents=True)
    other, _ = init_key(Project(other_root), "other")
    problems = envelopes.check(paths["provenance"], [other]).problems
    assert problems and problems[0].startswith("signed by an unknown key") and "other" in problems[0]
    data = json.loads(paths["verification"].read_text())
    data["signatures"] = []
    paths["verification"].write_text(json.dumps(data))
    assert envelopes.check(paths["verification"], keys).problems == ["unsigned (no signatures)"]


def test_nothing_is_written_without_a_key(project_copy, confdir, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(confdir))
    assert record.record_build(Project(project_copy), REC) is None
    assert not (project_copy / ".bakery/artifacts").exists()


def with_requires(project: Project, text: str = REQUIRES) -> Path:
    path = project.root / "rollouts/production/web.yaml"
    path.write_text(path.read_text() + text)
    return path


def test_requires_refuses_an_image_lacking_evidence_and_names_each_missing_item(keyed):
    defn = load_rollout(with_requires(keyed), keyed.root)
    assert defn.requires.signed_by == ("release",) and defn.requires.verified
    missing = check_requirements(keyed, defn, REC)
    assert len(missing) == 3
    assert missing[0].startswith("signed provenance for web 1.0.0 (fp-ffffffffffff) by release: "
                                 "no provenance attestation")
    assert "a signed verification of web 1.0.0" in missing[1]
    assert "a signed policy result for web 1.0.0" in missing[2]
    with pytest.raises(RolloutError, match=r"production requires evidence that web 1.0.0 "
                                           r"\(fp-ffffffffffff\) lacks: signed provenance"):
        require_evidence(keyed, defn, REC)


def test_requires_accepts_an_image_with_evidence_and_catches_failed_or_foreign_evidence(keyed):
    defn = load_rollout(with_requires(keyed), keyed.root)
    paths = write_all(keyed)
    assert check_requirements(keyed, defn, REC) == []
    # evidence about another image (same version, other digest) does not count
    other = BuildRecord(**{**REC.__dict__, "image_id": "sha256:" + "d" * 64})
    assert len(check_requirements(keyed, defn, other)) == 3
    # a failed policy result is named with its denials
    record.record_policy(keyed, REC, [{"level": "deny", "message": "runs as root"}], {})
    [policy] = check_requirements(keyed, defn, REC)
    assert policy.endswith("denied (runs as root)")
    flip_payload_byte(paths["verification"])
    assert any("does not verify" in m for m in check_requirements(keyed, defn, REC))


def test_rollouts_without_requires_demand_nothing(keyed):
    defn = load_rollout(keyed.root / "rollouts/production/web.yaml", keyed.root)
    assert not defn.requires.demands_evidence
    assert check_requirements(keyed, defn, REC) == []


def test_requires_is_validated_with_file_line_and_key(keyed):
    path = with_requires(keyed, "requires:\n  signed_by: [nobody]\n")
    with pytest.raises(DefinitionError, match=r"web.yaml:\d+: requires.signed_by\[0\]: no public key "
                                              r"keys/nobody.pub"):
        load_rollout(path, keyed.root)
    path.write_text(path.read_text().replace("signed_by: [nobody]", "polcy: pass"))
    with pytest.raises(DefinitionError, match=r"requires.polcy: unknown key \(did you mean 'policy'"):
        load_rollout(path, keyed.root)


def test_requires_is_in_the_schema():
    result = CliRunner().invoke(main, ["schema", "rollout"])
    props = json.loads(result.output)["properties"]["requires"]["properties"]
    assert set(props) == {"signed_by", "verified", "policy", "succeeded_in"}  # + promotion (issue 14)
    assert props["policy"]["enum"] == ["pass"]


def test_export_writes_one_bundle_line_per_envelope(keyed, tmp_path):
    write_all(keyed)
    out = tmp_path / "bundle.intoto.jsonl"
    result = CliRunner().invoke(main, ["--project", str(keyed.root), "evidence", "export",
                                       "web:1.0.0", "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(x)["payloadType"] == statements.PAYLOAD_TYPE
                                   for x in lines)
    missing = CliRunner().invoke(main, ["--project", str(keyed.root), "evidence", "export", "lb:1.0.0"])
    assert missing.exit_code == 2 and "no evidence for lb 1.0.0" in missing.output
    assert os.environ.get("BAKERY_SIGNING_KEY") is None


@pytest.mark.parametrize("ref", ["../etc:1.0.0", "Web:1.0.0", "web:one"])
def test_evidence_refs_are_image_names_and_versions(keyed, ref):
    result = CliRunner().invoke(main, ["--project", str(keyed.root), "evidence", "export", ref])
    assert result.exit_code == 2 and ref in result.output
