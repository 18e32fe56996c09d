"""bakery drift: every live and standby member against what its rollout put there.

Exit 0 when every member is clean, 3 when drift is found, 1 when a member could not be
inspected. It only reads: no lock, no journal row, no change to any server.
"""

from __future__ import annotations

import click
from rich.markup import escape

from bakery.cli.app import Context, console, main, pass_context, print_json
from bakery.definitions import names
from bakery.drift.findings import MemberReport, exit_code
from bakery.rollout import audit

MARKS = {"clean": "[green]clean[/]", "drifted": "[red]drifted[/]", "unreadable": "[yellow]unreadable[/]"}


def show(report: MemberReport) -> None:
    console.print(f"[bold]{report.env}/{report.service}[/] {report.role} {report.colour}{report.slot} "
                  f"{escape(report.name)} {report.version} (fp-{report.fingerprint[:12]}): "
                  f"{MARKS[report.verdict]}", highlight=False, soft_wrap=True)
    if report.error:
        console.print(f"    {escape(report.error)}", highlight=False, soft_wrap=True)
    for finding in report.findings:
        console.print(f"    {finding.kind:<8} {escape(finding.subject)}: {escape(finding.detail)}",
                      highlight=False, soft_wrap=True)


@main.command("drift")
@click.argument("service", required=False)
@click.option("--env", "env", help="Only this environment.")
@click.option("--json", "as_json", is_flag=True, help="One JSON report on stdout.")
@pass_context
def drift_command(ctx: Context, service: str | None, env: str | None, as_json: bool) -> None:
    """Compare every live and standby member with its verified image and definition: image,
    config, files changed outside the writable paths, processes the image did not start.
    Exit 0 clean, 3 drift, 1 a member could not be inspected."""
    if env:
        names.env(env)
    if service:
        names.service(service)
    reports = audit.drift(ctx.project, env, service, on_report=None if as_json else show)
    code = exit_code(reports)
    if as_json:
        print_json({"members": [r.as_dict() for r in reports],
                    "verdict": {0: "clean", 3: "drifted", 1: "unreadable"}[code]})
    else:
        counts = {v: sum(r.verdict == v for r in reports) for v in MARKS}
        console.print(f"{len(reports)} member(s): {counts['clean']} clean, {counts['drifted']} drifted, "
                      f"{counts['unreadable']} unreadable" if reports else "no live or standby members",
                      highlight=False)
    raise SystemExit(code)
