"""bakery verify and bakery ci."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.cli.policy import ci_build_case, ci_lint_cases
from bakery.errors import VerifyError
from bakery.verify import ci as cimod
from bakery.verify import junit
from bakery.verify.model import VerifyReport
from bakery.verify.runner import parse_ref
from bakery.verify.runner import verify as run_verify
from bakery.verify.session import TEST_TIMEOUT

MARKS = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "error": "[red]✗[/]",
         "skipped": "[yellow]-[/]"}

TIMEOUT_OPTION = click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), default=TEST_TIMEOUT,
    show_default=True, metavar="SECONDS",
    help="Per check: a check (fixture set-up included) running longer fails as hung and the "
         "session goes on. BAKERY_VERIFY_TIMEOUT bounds the whole session.")


def printer(as_json: bool, prefix: str = ""):
    """An on_event sink that prints progress (to stderr when stdout carries JSON)."""
    out = err_console if as_json else console

    def show(kind: str, data: dict[str, Any]) -> None:
        text = (f"{data['image']}: " if data.get("image") else "") + str(data.get("text", ""))
        if kind in MARKS:
            out.print(f"  {MARKS[kind]} {escape(prefix + text)}", highlight=False, soft_wrap=True)
        elif kind in ("info", "build"):
            out.print(f"[cyan]»[/] {escape(prefix + text)}", highlight=False, soft_wrap=True)
        elif kind == "warning":
            err_console.print(f"[yellow]warning:[/] {escape(prefix + text)}", highlight=False,
                              soft_wrap=True)

    return show


def print_failures(report: VerifyReport, out=err_console) -> None:
    """What a person needs to act: which check, the assertion, the command and its output."""
    for check in report.failures:
        out.print(f"\n[bold red]FAILED[/] {escape(report.name)}: [bold]{escape(check.name)}[/]",
                  highlight=False)
        if check.message:
            out.print(_indent(check.message), highlight=False, markup=False, soft_wrap=True)
        if check.command:
            out.print("  command run:", highlight=False)
            out.print(_indent("$ " + check.command, 4), highlight=False, markup=False, soft_wrap=True)
        if check.output.strip():
            out.print("  its output:", highlight=False)
            out.print(_indent(_trim(check.output), 4), highlight=False, markup=False, soft_wrap=True)


def _trim(text: str, limit: int = 25) -> str:
    lines = text.rstrip().splitlines()
    return "\n".join(lines[:limit] + ([f"... ({len(lines) - limit} more lines)"]
                                      if len(lines) > limit else []))


def _indent(text: str, width: int = 2) -> str:
    return "\n".join(" " * width + line for line in text.splitlines())


def outcome_line(report: VerifyReport) -> str:
    counts = report.counts()
    parts = [f"{counts['passed']} passed"]
    for key in ("failed", "error", "skipped"):
        if counts[key]:
            parts.append(f"{counts[key]} {key}")
    return (f"{report.name} {report.version} fp-{report.fingerprint[:12]}: "
            + ("[green]verified[/]" if report.passed else "[red]verification failed[/]")
            + f" ({', '.join(parts)}; {report.duration:.1f}s)")


@main.command()
@click.argument("ref", metavar="NAME[:VERSION]")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JUnit XML report here.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report on stdout.")
@TIMEOUT_OPTION
@pass_context
def verify(ctx: Context, ref: str, junit_path: Path | None, as_json: bool, timeout: float) -> None:
    """Run the image in a throwaway container and check it: its own testinfra tests
    (every test file under images/NAME/tests/) and built-in checks from the definition.
    Exit 1 on failure.

    Without VERSION, the newest build is verified; an image never built is built first."""
    name, version = parse_ref(ref)
    report = run_verify(ctx.project, name, version, junit_path=junit_path,
                        on_event=printer(as_json), test_timeout=timeout)
    if as_json:
        print_json(report.as_dict())
    else:
        print_failures(report)
        console.print(outcome_line(report), highlight=False, soft_wrap=True)
    if not report.passed:
        # Printed here rather than raised: check names hold brackets, which the shared error
        # printer would read as rich markup.
        failing = ", ".join(c.name for c in report.failures)
        err_console.print(f"[bold red]error:[/] {escape(report.name)} {report.version} failed "
                          f"verification: {escape(failing)}", highlight=False, soft_wrap=True)
        raise click.exceptions.Exit(VerifyError.exit_code)


@main.command()
@click.option("--base", "base_ref", metavar="REF",
              help="Build and verify only images whose folders changed since REF (git).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one JUnit XML report (lint, build and every verification).")
@TIMEOUT_OPTION
@pass_context
def ci(ctx: Context, base_ref: str | None, junit_path: Path | None, timeout: float) -> None:
    """Lint every definition, then build and verify the images that changed. Exit 1 on any
    failure. Meant for every pull request: `bakery ci --base origin/main --junit report.xml`."""
    show = printer(False)

    def on_event(kind: str, data: dict[str, Any]) -> None:
        text = str(data.get("text", ""))
        if kind in ("lint-passed", "lint-failed"):
            mark = MARKS["passed" if kind == "lint-passed" else "error"]
            console.print(f"  {mark} lint {escape(text)}", highlight=False, soft_wrap=True)
        elif kind == "detail":
            err_console.print(_indent(escape(text), 4), highlight=False, soft_wrap=True)
        elif kind == "selection":
            console.print(f"[cyan]»[/] {escape(text)}", highlight=False, soft_wrap=True)
        elif kind == "rollouts":
            console.print(f"[cyan]»[/] rollout changes (linted only): {escape(text)}",
                          highlight=False, soft_wrap=True)
        elif kind == "built":
            console.print(f"[green]✓[/] build {escape(text)}", highlight=False)
        elif kind in ("build-failed", "verify-failed"):
            step = kind.split("-")[0]
            err_console.print(f"[red]✗[/] {step} {escape(text)}", highlight=False, soft_wrap=True)
        else:
            show(kind, data)

    def on_report(report: VerifyReport) -> None:
        print_failures(report)
        console.print(outcome_line(report), highlight=False, soft_wrap=True)

    outcome = cimod.run(ctx.project, base_ref, on_event=on_event, on_report=on_report,
                        test_timeout=timeout, lint_checks=ci_lint_cases, build_check=ci_build_case)
    if junit_path is not None:
        junit.write(junit_path, outcome.suites)
        console.print(f"[cyan]»[/] JUnit report: {escape(str(junit_path))}", highlight=False)
    if outcome.failed:
        err_console.print(f"[bold red]ci failed:[/] {escape(', '.join(outcome.failed))}",
                          highlight=False, soft_wrap=True)
        # Only policy denials: the definitions are what is wrong (bad input, exit 2), as in lint.
        only_policy = all(name.startswith("policy ") for name in outcome.failed)
        raise click.exceptions.Exit(2 if only_policy else 1)
    console.print("[green]ci passed[/]")
