"""bakery images (what has been built) and bakery diff (how two builds' packages differ)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from bakery.build.catalog import diff_builds, image_rows
from bakery.cli.app import Context, console, main, pass_context, print_json
from bakery.definitions import names as namecheck


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.1f}GB"


@main.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def images(ctx: Context, names: tuple[str, ...], as_json: bool) -> None:
    """List built images: version, fingerprint, size, created and verification state."""
    for name in names:
        namecheck.image(name)
    rows = image_rows(ctx.project, names)
    if as_json:
        print_json({"images": rows})
        return
    if not rows:
        console.print("no images built yet: run bakery build")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("NAME", "VERSION", "FINGERPRINT", "SIZE", "CREATED", "VERIFIED", "ENGINE"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        style = {"passed": "green", "failed": "red"}.get(row["verification"], "dim")
        table.add_row(row["name"], row["version"], "fp-" + row["fingerprint"][:12],
                      human_size(row["size"]), row["created"][:16].replace("T", " "),
                      f"[{style}]{row['verification_detail']}[/]", row["engine_state"])
    # On a pipe, print whole rows (grep-able) rather than crop to 80 columns.
    out = console
    if not console.is_terminal:
        wide = Console(file=console.file, width=1000, color_system=None)
        out = Console(file=console.file, width=wide.measure(table).maximum, color_system=None)
    out.print(table)


@main.command()
@click.argument("name")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def diff(ctx: Context, name: str, old: str, new: str, as_json: bool) -> None:
    """Package changes between two builds of NAME (each a version, or fp-<fingerprint prefix>)."""
    namecheck.image(name)
    before, after, changes = diff_builds(ctx.project, name, old, new)
    if as_json:
        print_json({"name": name,
                    "old": {"version": before.version, "fingerprint": before.fingerprint},
                    "new": {"version": after.version, "fingerprint": after.fingerprint},
                    "changes": [{"name": c.name, "old": c.old, "new": c.new} for c in changes]})
        return
    console.print(f"{name} {before.version} (fp-{before.short_fingerprint}) -> "
                  f"{after.version} (fp-{after.short_fingerprint})", highlight=False)
    if not changes:
        console.print("no package changes")
    for change in changes:
        style = "green" if change.old is None else "red" if change.new is None else "yellow"
        console.print(f"[{style}]{change}[/]", highlight=False)
    counts = (sum(c.old is None for c in changes), sum(c.new is None for c in changes),
              sum(c.old is not None and c.new is not None for c in changes))
    if changes:
        console.print(f"{counts[0]} added, {counts[1]} removed, {counts[2]} changed", highlight=False)
