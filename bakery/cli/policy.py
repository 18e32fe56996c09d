"""bakery policy: evaluate policy/*.rego over definitions and, where built, their build facts.

Also the small printers that lint and build share for policy findings.
"""

from __future__ import annotations

import click

from bakery.build.docker_builder import git_revision
from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.errors import UsageError
from bakery.evidence.keys import private_dir, project_keys
from bakery.evidence.record import record_build, record_policy
from bakery.policy import rego
from bakery.policy.evaluate import (
    check_build,
    check_definitions,
    definition_inputs,
    findings_for,
    newest_build,
)
from bakery.policy.model import Finding, denials
from bakery.project import Project
from bakery.store.builds import BuildRecord
from bakery.verify.model import ERROR, CheckResult


def show_findings(findings: list[Finding], stderr_only: bool = False) -> None:
    """Denials on stderr in red, warnings in yellow (on stderr too when stdout carries JSON);
    each one line with file:line."""
    for finding in findings:
        if finding.denied:
            _line(err_console, "[red]✗ deny:[/]", finding)
        else:
            _line(err_console if stderr_only else console, "[yellow]! warn:[/]", finding)


def _line(out, mark: str, finding: Finding) -> None:
    out.print(mark, end=" ")
    out.print(finding.render(), markup=False, highlight=False, soft_wrap=True)


def raise_on_denials(findings: list[Finding], what: str) -> None:
    """Exit 2 (bad input: the definition breaks a rule) when any finding is a denial."""
    denied = denials(findings)
    if denied:
        err_console.print(f"[bold red]error:[/] {len(denied)} policy denial(s){what}",
                          highlight=False, soft_wrap=True)
        raise click.exceptions.Exit(2)


@main.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable findings.")
@pass_context
def policy(ctx: Context, names: tuple[str, ...], as_json: bool) -> None:
    """Evaluate policy/*.rego over image and rollout definitions; images with a build of their
    current version are checked against the build's facts too. NAME is an image name or a
    rollout as ENV/SERVICE (default: everything). Exit 2 on any denial; warnings pass."""
    project = ctx.project
    policies = rego.load(project.root)
    if not policies:
        raise UsageError(f"no policies: {rego.policy_dir(project.root)} holds no *.rego file")
    wanted = list(dict.fromkeys(names)) or None
    subjects = definition_inputs(project, wanted)
    known = {s.subject.split(" ", 1)[1] for s in subjects}
    if wanted and (missing := [n for n in wanted if n not in known]):
        raise UsageError(f"nothing to check named {', '.join(missing)} (images by name, rollouts "
                         "as ENV/SERVICE; a definition that fails `bakery lint` is not checked)")
    findings: list[Finding] = []
    checked = []
    for subject in subjects:
        doc = subject.document
        rec = newest_build(project, doc["name"], doc["definition"]["version"]) \
            if doc["kind"] == "image" else None
        if rec is not None:
            findings += check_build(project, rec, policies)
            checked.append(f"{subject.subject} {rec.version} fp-{rec.short_fingerprint} "
                           "(definition and build facts)")
        else:
            findings += findings_for(policies, subject)
            checked.append(subject.subject + (" (not built: definition rules only)"
                                              if doc["kind"] == "image" else ""))
    if as_json:
        print_json({"policies": sorted(policies.files), "checked": checked,
                    "findings": [f.as_dict() for f in findings],
                    "passed": not denials(findings)})
    else:
        for line in checked:
            console.print(f"[cyan]»[/] {line}", highlight=False, soft_wrap=True)
        show_findings(findings)
        if not denials(findings):
            console.print(f"[green]✓[/] {len(subjects)} definition(s) pass {len(policies.files)} "
                          f"policy file(s)" + (f" ({len(findings)} warning(s))" if findings else ""),
                          highlight=False)
    raise_on_denials(findings, "")


def after_build(project: Project, rec: BuildRecord, builder: str = "docker",
                stderr_only: bool = False) -> list[Finding]:
    """Hook for `bakery build` and `bakery ci` after an image is built (or found up to date):
    evaluate every policy against the build's facts, print the findings, and write the signed
    provenance and policy attestations when the project has a key. Returns the findings; the
    caller fails (exit 2) on a denial."""
    policies = rego.load(project.root)
    findings = check_build(project, rec, policies) if policies else []
    show_findings(findings, stderr_only)
    written = record_build(project, rec, builder=builder, revision=git_revision(project.root))
    if policies:
        record_policy(project, rec, [f.as_dict() for f in findings], policies.files)
    if written is None and project_keys(project):
        err_console.print("[yellow]! no evidence signed:[/] no private key at hand for "
                          f"{', '.join(f'keys/{k}.pub' for k in project_keys(project))} "
                          f"(looked in $BAKERY_SIGNING_KEY and {private_dir()})",
                          highlight=False, soft_wrap=True)
    return findings


# --- Hooks for `bakery ci` (bakery/cli/verify.py, wired by the lead; see docs/trust.md) ---

def ci_lint_cases(project: Project) -> list[CheckResult]:
    """After ``cimod.lint``: the definition rules; warnings print, each denial is a failing
    case (group "policy") in the lint suite."""
    findings = check_definitions(project)
    show_findings(findings)
    return [CheckResult(f"policy {f.location()}", False, 0.0, f.render(), outcome=ERROR,
                        group="policy") for f in denials(findings)]


def ci_build_case(project: Project, rec: BuildRecord) -> CheckResult | None:
    """After each successful build in ci: policies on the build's facts plus signed provenance
    and policy evidence (after_build); a failing case (group "policy") when anything is denied."""
    denied = denials(after_build(project, rec))
    if not denied:
        return None
    return CheckResult(f"policy {rec.name}", False, 0.0, "\n".join(f.render() for f in denied),
                       outcome=ERROR, group="policy")
