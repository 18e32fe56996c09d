"""bakery verify and bakery ci."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.markup import escape

from bakery.build.docker_builder import build as build_image
from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.errors import BakeryError, VerifyError
from bakery.verify import ci as cimod
from bakery.verify import junit
from bakery.verify.model import ERROR, CheckResult, VerifyReport
from bakery.verify.runner import parse_ref, suite
from bakery.verify.runner import verify as run_verify

MARKS = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "error": "[red]✗[/]",
         "skipped": "[yellow]-[/]"}


def printer(as_json: bool, prefix: str = ""):
    """An on_event sink that prints progress (to stderr when stdout carries JSON)."""
    out = err_console if as_json else console

    def show(kind: str, text: str) -> None:
        if kind in MARKS:
            out.print(f"  {MARKS[kind]} {escape(prefix + text)}", highlight=False, soft_wrap=True)
        elif kind in ("info", "build"):
            out.print(f"[cyan]»[/] {escape(prefix + text)}", highlight=False, soft_wrap=True)

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
@pass_context
def verify(ctx: Context, ref: str, junit_path: Path | None, as_json: bool) -> None:
    """Run the image in a throwaway container and check it: its own testinfra tests
    (images/NAME/tests/test_*.py) and built-in checks from the definition. Exit 1 on failure.

    Without VERSION, the newest build is verified; an image never built is built first."""
    name, version = parse_ref(ref)
    report = run_verify(ctx.project, name, version, junit_path=junit_path,
                        on_event=printer(as_json))
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
@pass_context
def ci(ctx: Context, base_ref: str | None, junit_path: Path | None) -> None:
    """Lint every definition, then build and verify the images that changed. Exit 1 on any
    failure. Meant for every pull request: `bakery ci --base origin/main --junit report.xml`."""
    project = ctx.project
    show = printer(False)
    lint_results, valid = cimod.lint(project)
    for result in lint_results:
        mark = MARKS["passed" if result.passed else "error"]
        console.print(f"  {mark} lint {escape(result.name)}", highlight=False, soft_wrap=True)
        if not result.passed:
            err_console.print(_indent(escape(result.message), 4), highlight=False, soft_wrap=True)
    selection = cimod.select(project, base_ref)
    console.print(f"[cyan]»[/] {escape(selection.reason)}: "
                  f"{escape(', '.join(selection.names)) or 'nothing to build'}",
                  highlight=False, soft_wrap=True)
    if selection.changed_rollouts:
        console.print(f"[cyan]»[/] rollout changes (linted only): "
                      f"{escape(', '.join(selection.changed_rollouts))}", highlight=False, soft_wrap=True)
    suites = [junit.Suite("bakery lint", lint_results, classname="lint")]
    build_suite = junit.Suite("bakery build", [], classname="build")
    suites.append(build_suite)
    failed = [r.name for r in lint_results if not r.passed]
    for name in selection.names:
        if name not in valid:
            continue  # its lint failure is already reported
        defn = project.load_image(name)
        started = time.monotonic()
        try:
            outcome = build_image(project, defn, on_event=lambda kind, data:
                                  show(kind if kind == "info" else "build", data["text"])
                                  if kind in ("step", "info") else None)
        except BakeryError as exc:
            build_suite.cases.append(CheckResult(name, False, time.monotonic() - started, str(exc),
                                                 outcome=ERROR, group="build"))
            err_console.print(f"[red]✗[/] build {escape(name)}: {escape(str(exc))}", highlight=False,
                              soft_wrap=True)
            failed.append(f"build {name}")
            continue
        rec = outcome.record
        state = "up to date" if outcome.up_to_date else f"built in {outcome.seconds:.1f}s"
        build_suite.cases.append(CheckResult(name, True, outcome.seconds, state, group="build"))
        console.print(f"[green]✓[/] build {name} {rec.version} fp-{rec.short_fingerprint} {state}",
                      highlight=False)
        try:
            report = run_verify(project, name, fingerprint=rec.fingerprint,
                                on_event=printer(False, f"{name}: "))
        except BakeryError as exc:
            suites.append(junit.Suite(f"bakery verify {name}", [CheckResult(
                "verification", False, time.monotonic() - started, str(exc), outcome=ERROR,
                group="setup")], classname=name))
            err_console.print(f"[red]✗[/] verify {escape(name)}: {escape(str(exc))}",
                              highlight=False, soft_wrap=True)
            failed.append(f"verify {name}")
            continue
        suites.append(suite(report))
        print_failures(report)
        console.print(outcome_line(report), highlight=False, soft_wrap=True)
        if not report.passed:
            failed.append(f"verify {name}")
    if junit_path is not None:
        junit.write(junit_path, suites)
        console.print(f"[cyan]»[/] JUnit report: {escape(str(junit_path))}", highlight=False)
    if failed:
        err_console.print(f"[bold red]ci failed:[/] {escape(', '.join(failed))}", highlight=False,
                          soft_wrap=True)
        raise click.exceptions.Exit(1)
    console.print("[green]ci passed[/]")
