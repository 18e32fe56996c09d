"""bakery keys init, bakery evidence export and bakery evidence verify."""

from __future__ import annotations

import re
from pathlib import Path

import click

from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.definitions.image import NAME
from bakery.errors import UsageError
from bakery.evidence import keys as keymod
from bakery.evidence import verify as evmod
from bakery.verify.runner import parse_ref


@main.group()
def keys() -> None:
    """The project's signing keys (public in keys/, private outside the project)."""


@keys.command("init")
@click.option("--name", default="project", show_default=True,
              help="The key's name: keys/NAME.pub, and what rollouts' requires.signed_by lists.")
@pass_context
def keys_init(ctx: Context, name: str) -> None:
    """Generate an ed25519 signing key: the public half in keys/NAME.pub (commit it), the private
    half in $BAKERY_SIGNING_KEY or ~/.config/bakery/keys/<keyid>.pem (never in the project)."""
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"--name {name!r}: expected a plain name like 'release'")
    public, private = keymod.init_key(ctx.project, name)
    console.print(f"[green]✓[/] keys/{name}.pub (key id {public.keyid[:16]}…); private key "
                  f"{private} (mode 0600, keep it out of the repository)", highlight=False)


def image_ref(ref: str) -> tuple[str, str | None]:
    """NAME[:VERSION] where NAME is an image name (it becomes a folder under the artifacts)."""
    name, version = parse_ref(ref)
    if not re.fullmatch(NAME, name):
        raise UsageError(f"{ref!r}: {name!r} is not an image name (lowercase letters, digits, dashes)")
    return name, version


@main.group()
def evidence() -> None:
    """Signed in-toto evidence per image version (provenance, verification, policy, rollouts)."""


@evidence.command("export")
@click.argument("ref", metavar="NAME:VERSION")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Bundle file (default: NAME-VERSION.intoto.jsonl here).")
@pass_context
def evidence_export(ctx: Context, ref: str, out: Path | None) -> None:
    """Write every envelope of NAME:VERSION to one bundle (JSON Lines, one DSSE envelope a line)."""
    name, version = image_ref(ref)
    if version is None:
        raise UsageError(f"{ref!r}: expected NAME:VERSION")
    path, count = evmod.export(ctx.project, name, version,
                               out or Path(f"{name}-{version}.intoto.jsonl"))
    console.print(f"[green]✓[/] {count} envelope(s) → {path}", highlight=False)


@evidence.command("verify")
@click.argument("ref", metavar="NAME[:VERSION]")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Trust only this PEM public key (default: the project's keys/*.pub).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@pass_context
def evidence_verify(ctx: Context, ref: str, key_path: Path | None, as_json: bool) -> None:
    """Check every signature of the image's evidence and that each subject digest is the image
    the engine holds under that tag. Exit 1 naming each problem."""
    name, version = image_ref(ref)
    report = evmod.verify(ctx.project, name, version, key_path)
    if as_json:
        print_json(report.as_dict())
    else:
        for checked in report.checked:
            signed = ", ".join(checked.signed_by) or "nobody trusted"
            if checked.problems:
                for problem in checked.problems:
                    err_console.print("[red]✗[/]", end=" ")
                    err_console.print(f"{checked.path.name}: {problem}", markup=False,
                                      highlight=False, soft_wrap=True)
            else:
                console.print(f"[green]✓[/] {checked.path.name} ({checked.kind}, signed by {signed})",
                              highlight=False, soft_wrap=True)
        for problem in report.problems:
            err_console.print("[red]✗[/]", end=" ")
            err_console.print(problem, markup=False, highlight=False, soft_wrap=True)
    if not report.ok:
        bad = sum(1 for c in report.checked if c.problems) + len(report.problems)
        err_console.print(f"[bold red]error:[/] evidence for {name} {report.version} does not "
                          f"verify ({bad} problem(s))", highlight=False)
        raise click.exceptions.Exit(1)
    if not as_json:
        console.print(f"[green]✓[/] evidence for {name} {report.version}: {len(report.checked)} "
                      "envelope(s) verified against the engine", highlight=False)
