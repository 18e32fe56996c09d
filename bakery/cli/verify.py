"""bakery verify and bakery ci."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.errors import VerifyError
from bakery.verify.model import VerifyReport
from bakery.verify.runner import parse_ref
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
            out.print(f"[cyan]{escape(prefix) or '»'}[/] {escape(text)}", highlight=False,
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
        failing = ", ".join(c.name for c in report.failures)
        raise VerifyError(f"{report.name} {report.version} failed verification: {failing}")
