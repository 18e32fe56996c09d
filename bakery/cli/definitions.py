"""bakery lint and bakery schema."""

from __future__ import annotations

import json

import click

from bakery.cli.app import Context, console, main, pass_context, show_error
from bakery.definitions.image import IMAGE_SCHEMA, load_image
from bakery.definitions.rollout import ROLLOUT_SCHEMA
from bakery.errors import BakeryError, DefinitionError


@main.command()
@pass_context
def lint(ctx: Context) -> None:
    """Validate every image and rollout definition; exit 2 on the first problem in each file."""
    project = ctx.project
    failures = 0
    checked = 0
    for name in project.image_names():
        checked += 1
        try:
            load_image(project.image_path(name), project.root)
        except DefinitionError as exc:
            failures += 1
            show_error(str(exc), mark="[red]✗[/]")
    for path in project.rollout_paths():
        checked += 1
        try:
            project.load_rollout(path.parent.name, path.stem)
        except BakeryError as exc:
            failures += 1
            show_error(str(exc), mark="[red]✗[/]")
    if failures:
        raise click.exceptions.Exit(2)
    console.print(f"[green]✓[/] {checked} definition(s) valid")


@main.command()
@click.argument("kind", type=click.Choice(["all", "image", "rollout"]), default="all")
def schema(kind: str) -> None:
    """Print a JSON Schema of the definition formats, for editor completion."""
    schemas = {
        "image": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "title": "bakery image", **IMAGE_SCHEMA.json_schema()},
        "rollout": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                    "title": "bakery rollout", **ROLLOUT_SCHEMA.json_schema()},
    }
    out = schemas if kind == "all" else schemas[kind]
    click.echo(json.dumps(out, indent=2))
