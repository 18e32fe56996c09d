"""bakery build."""

from __future__ import annotations

import click

from bakery.build.docker_builder import build as build_image
from bakery.cli.app import Context, console, main, pass_context, print_json


@main.command()
@click.argument("names", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Build every image under images/.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def build(ctx: Context, names: tuple[str, ...], build_all: bool, as_json: bool) -> None:
    """Build images from their definitions; an unchanged definition is not rebuilt."""
    project = ctx.project
    defns = project.load_images(list(names) if names and not build_all else None)
    results = []
    for defn in defns:
        def show(kind: str, text: str, name: str = defn.name) -> None:
            if not as_json and kind in ("step", "info"):
                console.print(f"[cyan]{name}[/] {text}", highlight=False, soft_wrap=True)
        outcome = build_image(project, defn, on_event=show)
        rec = outcome.record
        results.append({"name": rec.name, "version": rec.version, "fingerprint": rec.fingerprint,
                        "image_id": rec.image_id, "up_to_date": outcome.up_to_date,
                        "seconds": round(outcome.seconds, 2), "tags": outcome.tags})
        if not as_json:
            state = "up to date" if outcome.up_to_date else f"built in {outcome.seconds:.1f}s"
            console.print(f"[green]✓[/] {rec.name} {rec.version} fp-{rec.short_fingerprint} {state}")
    if as_json:
        print_json({"images": results})
