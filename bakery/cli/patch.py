"""bakery patch: nightly rebuilds with refreshed packages, no-op detection and a changelog."""

from __future__ import annotations

from typing import Any

import click

from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.definitions import names as namecheck
from bakery.errors import UsageError
from bakery.patch.decide import FAILED, PATCHED, format_change
from bakery.patch.runner import patch as run_patch


@main.command()
@click.argument("names", nargs=-1)
@click.option("--all", "patch_all", is_flag=True, help="Patch every image under images/.")
@click.option("--rollout", "rollout_env", metavar="ENV",
              help="Roll verified patched images out to ENV with its canary strategy.")
@click.option("--yes", is_flag=True, help="Allow --rollout to a production environment.")
@click.option("--no-base-refresh", is_flag=True,
              help="Keep the local base images as they are (packages are still upgraded).")
@click.option("--rebuild", is_flag=True,
              help="Build a candidate of every image (and re-bootstrap every base) even when "
                   "the probe would find no pending upgrade.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report on stdout.")
@pass_context
def patch(ctx: Context, names: tuple[str, ...], patch_all: bool, rollout_env: str | None,
          yes: bool, no_base_refresh: bool, rebuild: bool, as_json: bool) -> None:
    """Rebuild images with every package upgrade; keep a new image only when packages changed.

    A probe (apt-cache policy in a throwaway container of each current image) first skips the
    rebuild of images with no pending upgrade; --rebuild turns it off.

    Exit 0 when every image is patched (and verified) or up to date, 1 when any failed.
    """
    if bool(names) == patch_all:
        raise UsageError("name the images to patch, or pass --all (not both)")
    if rollout_env is not None:
        namecheck.env(rollout_env)  # a folder, networks and a lock are named after it

    def show(kind: str, data: dict[str, Any]) -> None:
        if kind in ("stage", "info"):
            (err_console if as_json else console).print(f"[cyan]{data['image']}[/] {data['text']}",
                                                        highlight=False, soft_wrap=True)

    run = run_patch(ctx.project, None if patch_all else list(names),
                    refresh_bases=not no_base_refresh, rollout_env=rollout_env, yes=yes,
                    rebuild=rebuild, on_event=show)
    if as_json:
        print_json(run.as_json())
    else:
        for base in run.bases:
            state = "unchanged" if base.previous_id == base.image_id \
                else f"refreshed, {len(base.changes)} package change(s)"
            if base.probed:
                state += " (probe: nothing pending, not re-bootstrapped)"
            console.print(f"[green]✓[/] base {base.ref} {state}", highlight=False)
        for r in run.results:
            if r.status == PATCHED:
                console.print(f"[green]✓[/] {r.name} {r.old_version} -> {r.new_version} "
                              f"fp-{(r.new_fingerprint or '')[:12]} verified, "
                              f"{len(r.changes)} package change(s):", highlight=False)
                for change in r.changes:
                    console.print(f"    {format_change(change)}", highlight=False)
                for entry in r.rollout or []:
                    console.print(f"    rolled out to {entry['env']}/{entry['service']}",
                                  highlight=False)
            elif r.status == FAILED:
                err_console.print(f"[red]✗[/] {r.name}: {r.stage}: {r.error}", highlight=False,
                                  soft_wrap=True)
                for change in r.changes:
                    err_console.print(f"    {format_change(change)}", highlight=False)
            else:
                console.print(f"[green]✓[/] {r.name} {r.old_version} up to date "
                              f"(fp-{(r.old_fingerprint or '')[:12]})", highlight=False)
    if run.failed:
        raise click.exceptions.Exit(1)
