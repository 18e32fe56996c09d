"""bakery lint and bakery schema."""

from __future__ import annotations

import json

import click

from bakery.cli.app import Context, console, main, pass_context, show_error
from bakery.cli.policy import show_findings  # trust (issue 16)
from bakery.definitions.image import IMAGE_SCHEMA
from bakery.definitions.rollout import ROLLOUT_SCHEMA
from bakery.policy.evaluate import check_definitions  # trust (issue 16)


@main.command()
@pass_context
def lint(ctx: Context) -> None:
    """Validate every image and rollout definition; exit 2 on the first problem in each file."""
    results = ctx.project.lint()
    failures = [r for r in results if r.error is not None]
    for result in failures:
        show_error(str(result.error), mark="[red]✗[/]")
    # --- trust (issue 16): definition rules of policy/*.rego over the valid definitions
    findings = check_definitions(ctx.project)
    show_findings(findings)
    denied = [f for f in findings if f.denied]
    # --- end trust
    if failures or denied:
        raise click.exceptions.Exit(2)
    console.print(f"[green]✓[/] {len(results)} definition(s) valid"
                  + (" and pass the policies" if (ctx.project.root / "policy").is_dir() else ""))


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
