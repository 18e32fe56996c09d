"""Policies in Rego (policy/*.rego): each example policy denies a definition made to break it,
with the file and line of the key it names; warnings pass; a Rego syntax error is exit 2
naming the file and line; the example images pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import bakery.cli  # noqa: F401 - registers the commands
import bakery.cli.policy  # noqa: F401 - registers `bakery policy` (until bakery.cli imports it)
from bakery.cli.app import main
from bakery.policy import rego
from bakery.policy.evaluate import check_definitions, findings_for
from bakery.policy.inputs import image_input
from bakery.policy.model import Finding, level_of, split_result
from bakery.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(project_copy: Path) -> Path:
    shutil.copytree(REPO / "policy", project_copy / "policy")
    return project_copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def denials(root: Path) -> list[Finding]:
    return [f for f in check_definitions(Project(root)) if f.denied]


def test_the_example_images_and_rollouts_pass_every_policy(root):
    findings = check_definitions(Project(root))
    assert [f for f in findings if f.denied] == []
    # lb and web-bad carry no tests of their own and no rollout serves them: a warning each.
    assert sorted(f.subject for f in findings) == ["image lb", "image web-bad"]


def test_no_root_in_a_serving_image(root):
    web = root / "images/web/image.yaml"
    edit(web, "user: www-data", "user: root")
    [finding] = denials(root)
    assert finding.policy == "policy/no_root.rego" and finding.key == "user"
    assert finding.location() == f"images/web/image.yaml:{line_of(web, 'user: root')}"
    assert "served by production/web, staging/web" in finding.message


def test_lb_may_run_as_root_because_no_rollout_serves_it(root):
    assert "user" not in (root / "images/lb/image.yaml").read_text()
    assert denials(root) == []


def test_a_healthcheck_is_present(root):
    web = root / "images/web/image.yaml"
    text = web.read_text()
    web.write_text(text[:text.index("healthcheck:")] + text[text.index("labels:"):])
    [finding] = denials(root)
    assert finding.policy == "policy/healthcheck.rego" and finding.key == "healthcheck"
    # The key is missing, so the line is the definition's first (its closest ancestor).
    assert finding.location() == f"images/web/image.yaml:{line_of(web, 'name: web')}"


def test_a_serving_image_has_tests(root):
    shutil.rmtree(root / "images/web/tests")
    [finding] = denials(root)
    assert finding.policy == "policy/tests.rego"
    assert finding.render().startswith("images/web/image.yaml:2: name: is served by")


def test_no_package_from_the_deny_list(root):
    web = root / "images/web/image.yaml"
    edit(web, "  - nginx-light\n", "  - nginx-light\n  - telnetd=0.17-44\n")
    [finding] = denials(root)
    assert finding.key == "packages[1]"
    assert finding.location() == f"images/web/image.yaml:{line_of(web, 'telnetd')}"
    assert "package telnetd is on the deny list" in finding.message


def test_production_rollouts_have_canary_steps(root):
    prod = root / "rollouts/production/web.yaml"
    text = prod.read_text()
    prod.write_text(text[:text.index("  canary:")] + text[text.index("  analysis:"):])
    [finding] = denials(root)
    assert finding.policy == "policy/rollouts.rego" and finding.subject == "rollout production/web"
    assert finding.location() == f"rollouts/production/web.yaml:{line_of(prod, 'strategy:')}"
    # staging may go without
    stage = root / "rollouts/staging/web.yaml"
    text = stage.read_text()
    stage.write_text(text[:text.index("  canary:")] + text[text.index("  analysis:"):])
    assert len(denials(root)) == 1


def facts(**over):
    base = {"version": "1.0.0", "fingerprint": "f" * 64, "image_id": "sha256:" + "a" * 64,
            "base_id": "", "created": "", "size": 140 * 2**20, "layers": 9, "user": "www-data",
            "exposed_ports": [8080], "verification": None,
            "packages": [{"name": "nginx-light", "version": "1.22", "arch": "amd64"}]}
    return {**base, **over}


def build_findings(root: Path, **over) -> list[Finding]:
    project = Project(root)
    return findings_for(rego.load(root), image_input(project, "web", build=facts(**over)))


def test_image_size_under_the_limit_is_a_build_fact_rule(root):
    assert build_findings(root) == []
    [near] = build_findings(root, size=350 * 2**20)
    assert near.level == "warn" and "350 MB, near the 400 MB limit" in near.message
    [over] = build_findings(root, size=512 * 2**20)
    assert over.denied and over.policy == "policy/size.rego"
    assert over.location() == "images/web/image.yaml"  # no key: the file, no line


def test_a_denied_package_pulled_in_as_a_dependency_is_caught_from_the_manifest(root):
    pkgs = facts()["packages"] + [{"name": "openssh-server", "version": "1:9.2", "arch": "amd64"}]
    [finding] = build_findings(root, packages=pkgs)
    assert finding.denied and "openssh-server 1:9.2 is installed" in finding.message


def test_the_built_image_running_as_root_is_denied(root):
    [finding] = build_findings(root, user="root")
    assert finding.denied and "runs as root" in finding.message


def run(root: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(root), *args])


def test_lint_fails_with_exit_2_on_a_denial_and_names_file_and_line(root):
    web = root / "images/web/image.yaml"
    edit(web, "user: www-data", "user: root")
    result = run(root, "lint")
    assert result.exit_code == 2, result.output
    assert f"images/web/image.yaml:{line_of(web, 'user: root')}: user: runs as root" in result.output
    assert "[policy/no_root.rego]" in result.output


def test_a_warn_only_rule_passes_with_its_message(root):
    result = run(root, "lint")
    assert result.exit_code == 0, result.output
    assert "warn: images/lb/image.yaml:5: name: has no tests" in result.output
    result = run(root, "policy", "lb")
    assert result.exit_code == 0, result.output
    assert "has no tests under images/lb/tests" in result.output


def test_policy_names_images_and_rollouts_and_refuses_unknown_names(root):
    assert run(root, "policy", "web", "production/web").exit_code == 0
    result = run(root, "policy", "nope")
    assert result.exit_code == 2 and "nothing to check named nope" in result.output


def test_policy_json_lists_findings(root):
    import json

    result = run(root, "policy", "--json")
    doc = json.loads(result.stdout)
    assert doc["passed"] is True and len(doc["policies"]) == 6
    assert {f["level"] for f in doc["findings"]} == {"warn"}


@pytest.mark.parametrize("command", ["lint", "policy"])
def test_a_rego_syntax_error_is_exit_2_naming_file_and_line(root, command):
    (root / "policy/broken.rego").write_text(
        "package bakery.broken\n\ndeny contains msg if {\n\tmsg := \n}\n")
    result = run(root, command)
    assert result.exit_code == 2, result.output
    assert "policy/broken.rego:4: invalid Rego: Invalid assignment operator" in result.output


def test_a_policy_without_a_package_is_bad_input(root):
    (root / "policy/nopkg.rego").write_text("deny contains 1 if { true }\n")
    result = run(root, "policy")
    assert result.exit_code == 2 and "policy/nopkg.rego:1: invalid Rego: no package" in result.output


def test_without_policy_folder_lint_is_unchanged(project_copy):
    assert check_definitions(Project(project_copy)) == []
    result = run(project_copy, "lint")
    assert result.exit_code == 0 and "pass the policies" not in result.output


def test_conftest_rule_names_and_structured_messages():
    assert level_of("deny") == "deny" and level_of("deny_root") == "deny"
    assert level_of("violation") == "deny" and level_of("warn_size") == "warn"
    assert level_of("denied") is None and level_of("allow") is None
    assert split_result("plain") == ("plain", None)
    assert split_result({"msg": "m", "key": "user"}) == ("m", "user")
    assert split_result({"msg": "m", "key": ""}) == ("m", None)


def test_ci_lint_cases_turn_each_denial_into_a_failing_case(root):
    from bakery.cli.policy import ci_lint_cases

    assert ci_lint_cases(Project(root)) == []
    edit(root / "images/web/image.yaml", "user: www-data", "user: root")
    [case] = ci_lint_cases(Project(root))
    assert not case.passed and case.group == "policy" and "runs as root" in case.message


def test_a_rule_failing_at_run_time_is_exit_2_naming_what_was_evaluated(root):
    (root / "policy/odd.rego").write_text(
        "package bakery.odd\n\ndeny contains msg if {\n\tmsg := \"x\"\n\tinput.nope(1)\n}\n")
    result = run(root, "policy", "lb")
    assert result.exit_code == 2
    assert "policy/*.rego: evaluating image lb failed: Function not found: input.nope" in result.output
