"""bakery report: a rollout as one HTML page with its charts, and a PNG of the main chart."""

from __future__ import annotations

import logging
import webbrowser
from pathlib import Path

import click

from bakery.cli.app import Context, console, main, pass_context, print_json
from bakery.errors import UsageError
from bakery.project import Project
from bakery.store.url import state_url
from bakery.telemetry import stored as telemetry

log = logging.getLogger(__name__)

#: Reports written at the end of rollouts that are kept in .bakery/reports (about 5 MB each, mostly
#: plotly.js inline); older ones can be drawn again any time from the store with `bakery report`.
KEEP_REPORTS = 50


def prune(folder: Path, keep: int = KEEP_REPORTS) -> list[Path]:
    """Remove all but the ``keep`` newest reports (and their PNGs) in bakery's own report folder."""
    pages = sorted(folder.glob("*.html"), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for page in pages[keep:]:
        for path in (page, page.with_suffix(".png")):
            path.unlink(missing_ok=True)
        removed.append(page)
    return removed


def write_after_rollout(project: Project, rollout_id: str | None) -> Path | None:
    """The report of a rollout that just ended (succeeded or failed), for `bakery rollout` and
    `bakery rollback` to print. A report that cannot be drawn is logged and is no reason to
    change the command's outcome: returns None then."""
    if not rollout_id:
        return None
    # plotly and matplotlib are imported here, not at start-up: only a finished rollout draws.
    from bakery import report as rendering

    try:
        stored = telemetry.load(state_url(project), rollout_id)
        path = rendering.write(stored, telemetry.report_path(project.state_dir, rollout_id)).html
        prune(path.parent)
        return path
    except Exception as exc:  # noqa: BLE001 - the rollout is over; its report is a bonus
        log.warning("could not write the report of rollout %s: %s", rollout_id, exc)
        return None


@main.command()
@click.argument("ref", metavar="ROLLOUT_ID|SERVICE")
@click.option("--env", "env", help="Environment; needed when naming a service (its newest rollout).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the HTML (default: .bakery/reports/<rollout id>.html); the PNG goes "
                   "beside it.")
@click.option("--no-png", is_flag=True, help="Only the HTML page.")
@click.option("--open", "open_it", is_flag=True, help="Open the page in a browser.")
@click.option("--json", "as_json", is_flag=True, help="Print the paths and the verdicts as JSON.")
@pass_context
def report(ctx: Context, ref: str, env: str | None, output: Path | None, no_png: bool, open_it: bool,
           as_json: bool) -> None:
    """Write the report of a rollout (by id, or the newest of SERVICE in --env)."""
    # plotly and matplotlib are imported here, not at start-up: only this command draws.
    from bakery import report as rendering

    project = ctx.project
    rollout_id = telemetry.resolve(state_url(project), ref, env)
    stored = telemetry.load(state_url(project), rollout_id)
    path = output or telemetry.report_path(project.state_dir, rollout_id)
    if path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"-o {path}: the report is an HTML page; name it *.html")
    written = rendering.write(stored, path, png=not no_png)
    if as_json:
        print_json({"rollout_id": rollout_id, "html": str(written.html),
                    "png": str(written.png) if written.png else None, "status": stored.row.status,
                    "samples": sum(1 for s in stored.samples if s.kind == "lb"),
                    "verdicts": written.timeline.verdicts})
    else:
        r = stored.row
        console.print(f"report of {r.service}@{r.env} {r.kind} {r.version} ({r.status}): {written.html}",
                      highlight=False, soft_wrap=True)
        if written.png:
            console.print(f"chart: {written.png}", highlight=False, soft_wrap=True)
    if open_it:
        webbrowser.open(written.html.resolve().as_uri())
