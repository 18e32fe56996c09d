"""Trust against the real engine: `bakery build` runs the policies on the build's facts and
writes signed provenance and policy evidence; verification and rollout attestations join
them; `bakery evidence verify` catches a flipped byte, a wrong key and a retagged image; a
rollout's `requires:` refuses an image lacking evidence and accepts one that has it."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import bakery.cli  # noqa: F401 - registers the commands
import bakery.cli.evidence  # noqa: F401 - registers keys/evidence (until bakery.cli imports it)
import bakery.cli.policy  # noqa: F401
from bakery.build.docker_builder import build
from bakery.cli.app import main
from bakery.cli.policy import ci_build_case
from bakery.engine.client import engine
from bakery.evidence.record import record_latest_verification, record_rollout
from bakery.evidence.requirements import check_requirements
from bakery.project import Project
from bakery.verify.runner import verify

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def trust(project: Project, base_image, tmp_path_factory, monkeypatch):
    """The example project with policy/, a release key (private half outside it), and a copy
    of web under a unique name served by production with `requires:`; its tags go afterwards."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("BAKERY_SIGNING_KEY", raising=False)
    root = project.root
    shutil.copytree(REPO / "policy", root / "policy")
    name = f"trust-web-{secrets.token_hex(3)}"
    shutil.copytree(root / "images/web", root / "images" / name)
    yaml = root / "images" / name / "image.yaml"
    yaml.write_text(yaml.read_text().replace("name: web\n", f"name: {name}\n"))
    rollout = (root / "rollouts/production/web.yaml").read_text()
    (root / f"rollouts/production/{name}.yaml").write_text(
        rollout.replace("service: web", f"service: {name}").replace("name: web", f"name: {name}")
        + "requires:\n  signed_by: [release]\n  verified: true\n  policy: pass\n")
    assert cli(root, "keys", "init", "--name", "release").exit_code == 0
    yield project, name
    for image in engine().images.list(name=f"bakery/{name}"):
        for tag in image.tags:
            if tag.startswith(f"bakery/{name}:"):
                engine().images.remove(tag, force=True)


def cli(root: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(root), *args])


def flip_payload_byte(path: Path) -> None:
    data = json.loads(path.read_text())
    payload = bytearray(base64.b64decode(data["payload"]))
    payload[payload.index(b"bakery/") + len("bakery/")] ^= 0x20
    data["payload"] = base64.b64encode(bytes(payload)).decode()
    path.write_text(json.dumps(data))


def test_evidence_is_written_verified_demanded_and_tampering_is_named(trust, base_image, tmp_path):
    project, name = trust
    root = project.root
    defn = project.load_rollout("production", name)

    # Built without the CLI's hooks: an image with no evidence at all is refused, by name.
    rec = build(project, project.load_image(name)).record
    missing = check_requirements(project, defn, rec)
    assert [m.split(":")[0] for m in missing] == [
        f"signed provenance for {name} 1.0.0 (fp-{rec.fingerprint[:12]}) by release",
        f"a signed verification of {name} 1.0.0 (fp-{rec.fingerprint[:12]})",
        f"a signed policy result for {name} 1.0.0 (fp-{rec.fingerprint[:12]})"]

    # `bakery build` (up to date now) runs the policies on the facts and signs provenance + policy.
    result = cli(root, "build", name)
    assert result.exit_code == 0, result.output
    folder = project.artifacts_dir / name / "1.0.0"
    assert sorted(p.name for p in folder.glob("*.intoto.json")) == [
        "policy.intoto.json", "provenance.intoto.json"]
    assert len(check_requirements(project, defn, rec)) == 1  # verification still missing

    junit = tmp_path / "verify.xml"
    report = verify(project, name, junit_path=junit)
    assert report.passed, [c.name for c in report.failures]
    assert record_latest_verification(project, rec.fingerprint, junit) == folder / "verification.intoto.json"
    assert check_requirements(project, defn, rec) == []
    rollout = record_rollout(project, rec, "production", name, "promoted", "2026-01-01T00:00:00Z",
                             "2026-01-01T00:05:00Z", [{"step": 1, "weight": 5, "requests": 120,
                                                       "error_rate": 0.0, "p99_ms": 3.1, "passed": True}])
    assert rollout is not None and rollout.parent == folder

    ok = cli(root, "evidence", "verify", name, "--json")
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert sorted(e["kind"] for e in doc["envelopes"]) == ["policy", "provenance", "rollout",
                                                         "verification"]
    assert all(e["signed_by"] == ["release"] and e["subjects"] == [f"bakery/{name}:1.0.0@{rec.image_id}"]
               for e in doc["envelopes"])
    verification = json.loads(base64.b64decode(json.loads(
        (folder / "verification.intoto.json").read_text())["payload"]))["predicate"]
    assert verification["junit"]["digest"]["sha256"] and verification["counts"]["passed"] >= 18

    bundle = tmp_path / "bundle.jsonl"
    assert cli(root, "evidence", "export", f"{name}:1.0.0", "-o", str(bundle)).exit_code == 0
    assert len(bundle.read_text().splitlines()) == 4

    # A flipped byte in an envelope
    saved = (folder / "policy.intoto.json").read_text()
    flip_payload_byte(folder / "policy.intoto.json")
    bad = cli(root, "evidence", "verify", f"{name}:1.0.0")
    assert bad.exit_code == 1
    assert "policy.intoto.json: signature by key release does not verify" in bad.output
    assert any("does not verify" in m for m in check_requirements(project, defn, rec))
    (folder / "policy.intoto.json").write_text(saved)

    # A wrong key
    other_root = tmp_path / "other"
    (other_root / "images").mkdir(parents=True)
    assert cli(other_root, "keys", "init", "--name", "other").exit_code == 0
    bad = cli(root, "evidence", "verify", name, "--key", str(other_root / "keys/other.pub"))
    assert bad.exit_code == 1 and "provenance.intoto.json: signed by an unknown key" in bad.output

    # A retagged image: the version tag now names another image
    engine().images.get(base_image.image_id).tag(f"bakery/{name}", "1.0.0")
    bad = cli(root, "evidence", "verify", name)
    assert bad.exit_code == 1
    assert f"subject bakery/{name}:1.0.0 is {rec.image_id[:19]}… in the evidence" in bad.output
    assert "(retagged or rebuilt)" in bad.output
    engine().images.get(rec.image_id).tag(f"bakery/{name}", "1.0.0")
    assert cli(root, "evidence", "verify", name).exit_code == 0


def test_the_example_images_pass_every_policy_on_their_build_facts(trust):
    project, _ = trust
    result = cli(project.root, "build", "web", "lb", "web-bad")
    assert result.exit_code == 0, result.output
    assert "deny" not in result.output
    for name in ("web", "lb", "web-bad"):
        policy = json.loads(base64.b64decode(json.loads(
            (project.artifacts_dir / name / "1.0.0" / "policy.intoto.json").read_text())["payload"]))
        assert policy["predicate"]["result"] == "pass", policy["predicate"]["denials"]


def test_a_denial_on_build_facts_fails_the_build_with_exit_2(trust):
    project, name = trust
    (project.root / "policy/tiny.rego").write_text(
        "package bakery.tiny\n\ndeny contains \"bigger than 1 MB\" if {\n"
        "\tinput.build.size > 1048576\n}\n")
    result = cli(project.root, "build", name)
    assert result.exit_code == 2, result.output
    assert f"images/{name}/image.yaml: bigger than 1 MB [policy/tiny.rego]" in result.output
    assert "1 policy denial(s) in the built image(s)" in result.output
    policy = json.loads(base64.b64decode(json.loads(
        (project.artifacts_dir / name / "1.0.0" / "policy.intoto.json").read_text())["payload"]))
    assert policy["predicate"]["result"] == "fail"
    defn = project.load_rollout("production", name)
    rec = build(project, project.load_image(name)).record
    assert any("denied (bigger than 1 MB)" in m for m in check_requirements(project, defn, rec))
    # `bakery policy NAME` checks the newest build of the current version the same way
    checked = cli(project.root, "policy", name)
    assert checked.exit_code == 2 and "(definition and build facts)" in checked.output
    assert "bigger than 1 MB" in checked.output
    # bakery ci's hook gives the same verdict as a failing case
    case = ci_build_case(project, rec)
    assert case is not None and not case.passed and "bigger than 1 MB" in case.message
    # lint sees definitions only: a rule on build facts is undefined there
    assert cli(project.root, "lint").exit_code == 0
