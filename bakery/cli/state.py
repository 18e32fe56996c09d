"""bakery state show | check | migrate --to URL: the state store itself (docs/state.md)."""

from __future__ import annotations

from pathlib import Path

import click

from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.errors import UsageError
from bakery.store import health, transfer, verifications
from bakery.store.db import connect
from bakery.store.url import BadStateURL, parse, state_url


@main.group()
def state() -> None:
    """The state store: which backend, what it holds, whether it is sound, moving it."""


@state.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def show(ctx: Context, as_json: bool) -> None:
    """Backend, schema version and how many records of each kind."""
    conn = connect(state_url(ctx.project))
    try:
        facts = health.show(conn)
    finally:
        conn.close()
    if as_json:
        print_json(facts)
        return
    console.print(f"backend  {facts['backend']}  {facts['url']}", highlight=False, soft_wrap=True)
    console.print(f"schema   {facts['schema_version']} (this bakery knows up to "
                  f"{facts['known_schema_version']})", highlight=False)
    for table, count in facts["counts"].items():
        console.print(f"  {table:<14} {count}", highlight=False)


@state.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def check(ctx: Context, as_json: bool) -> None:
    """Say what is wrong with the store and how to restore it; exit 1 when anything is."""
    url = state_url(ctx.project)
    findings = health.check(url)
    if as_json:
        print_json({"url": url.display(), "ok": not findings,
                    "findings": [{"problem": f.problem, "remedy": f.remedy} for f in findings]})
    elif not findings:
        console.print(f"ok: {url.display()}", highlight=False)
    for finding in [] if as_json else findings:
        err_console.print(f"problem: {finding.problem}", markup=False, highlight=False, soft_wrap=True)
        err_console.print(f"  restore: {finding.remedy}", markup=False, highlight=False, soft_wrap=True)
    if findings:
        click.get_current_context().exit(1)


@state.command("migrate")
@click.option("--to", "to", required=True, metavar="URL",
              help="The target store: postgresql://... or sqlite:<path>.")
@pass_context
def migrate(ctx: Context, to: str) -> None:
    """Copy every record from the current store to another (idempotent: run it again safely)."""
    source_url = state_url(ctx.project)
    try:
        target_url = parse(to, ctx.project.db_path, ctx.project.root)
    except BadStateURL as exc:
        raise UsageError(f"--to: {exc}") from None
    if target_url == source_url:
        raise UsageError(f"--to names the current store ({source_url.display()}); name another")
    source = connect(source_url)
    try:
        target = connect(target_url)
        try:
            copied = transfer.copy_all(source, target)
        finally:
            target.close()
    finally:
        source.close()
    total = sum(c.copied for c in copied)
    for c in copied:
        console.print(f"  {c.table:<14} {c.copied} copied, {c.already} already there", highlight=False)
    console.print(f"copied {total} records from {source_url.display()} to {target_url.display()}"
                  " (locks stay with the source)", highlight=False, soft_wrap=True)



@state.command("import-verification")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def import_verification(ctx: Context, file: Path) -> None:
    """Record a verification result that `bakery verify` printed because the store could not take
    it then (its JSON, in FILE, or - for stdin)."""
    try:
        text = click.get_text_stream("stdin").read() if str(file) == "-" else file.read_text()
        rec = verifications.from_json(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{file}: {exc}") from None
    conn = connect(state_url(ctx.project))
    try:
        verifications.record(conn, rec)
    finally:
        conn.close()
    console.print(f"recorded: {rec.image_ref} fp-{rec.fingerprint[:12]} "
                  f"{'passed' if rec.passed else 'FAILED'} at {rec.started}", highlight=False)
