"""bakery base: make a base image available locally."""

from __future__ import annotations

from contextlib import nullcontext

import click

from bakery.cli.app import console, main, print_json
from bakery.engine.base import ensure_base


@main.command()
@click.argument("ref", default="debian:bookworm")
@click.option("--refresh", is_flag=True, help="Bootstrap or pull again even if present.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def base(ref: str, refresh: bool, as_json: bool) -> None:
    """Make the base image REF (e.g. debian:bookworm) available as bakery/base/REF."""
    status = console.status(f"preparing base {ref}…") if not as_json else nullcontext()
    with status:
        result = ensure_base(ref, refresh=refresh)
    if as_json:
        print_json({"ref": result.ref, "tag": result.tag, "id": result.image_id,
                    "created": result.created, "source": result.source,
                    "seconds": round(result.seconds, 2)})
    elif result.created:
        console.print(f"[green]✓[/] {result.tag} created from {result.source} "
                      f"in {result.seconds:.1f}s ({result.image_id[:19]})")
    else:
        console.print(f"[green]✓[/] {result.tag} up to date ({result.image_id[:19]})")

