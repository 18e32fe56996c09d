"""bakery cache: the shared package cache builds use (apt-cacher-ng, images/aptcache)."""

from __future__ import annotations

import click

from bakery.build import cache
from bakery.build.docker_builder import package_cache
from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.errors import BakeryError


@main.group("cache")
def cache_group() -> None:
    """The package cache builds and patch rebuilds route apt through (started on demand)."""


def _size(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.1f} MB"


@cache_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Whether the cache runs, where builds reach it, and how much it holds."""
    state = cache.status()
    if as_json:
        print_json({**state.as_json(), "enabled": cache.enabled()})
        return
    if not cache.enabled():
        console.print(f"package cache off ({cache.MODE_ENV}=off): builds go to the mirror directly")
    if state.running:
        console.print(f"[green]✓[/] package cache running at {state.url} "
                      f"({state.files} .deb files, {_size(state.size_bytes)}; volume {cache.VOLUME})",
                      highlight=False)
    else:
        console.print(f"package cache {state.state}: the next build that installs packages "
                      "starts it", highlight=False)


@cache_group.command("start")
@pass_context
def start(ctx: Context) -> None:
    """Start the cache now (building images/aptcache when needed), as a build would."""
    notes: list[str] = []
    url = package_cache(ctx.project, lambda kind, data: notes.append(data.get("text", "")))
    if url is None:
        raise BakeryError(notes[-1] if notes else "the package cache did not start")
    console.print(f"[green]✓[/] package cache running at {url}", highlight=False)


@cache_group.command("prune")
def prune() -> None:
    """Stop the cache and drop everything it holds (the next build starts an empty one)."""
    removed = cache.prune()
    if removed:
        console.print("[green]✓[/] removed " + ", ".join(removed))
    else:
        err_console.print("nothing to prune: no package cache")
