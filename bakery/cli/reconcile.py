"""bakery reconcile: converge what runs to the rollout definitions, the immutable way only.

One pass (``--once``, the default) or a loop (``--watch SECONDS``) that SIGTERM ends after the
current step. Exit 0 when everything is as defined (or was converged), 1 when something could
not be converged or was refused.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

import click
from rich.markup import escape

from bakery.cli.app import Context, console, err_console, main, pass_context
from bakery.definitions import names
from bakery.errors import UsageError
from bakery.rollout import reconcile as rc

MARKS = {"noop": "[green]as defined[/]", "rollout": "[cyan]rolled out[/]", "replace": "[cyan]replaced[/]",
         "refused": "[yellow]refused[/]", "failed": "[red]failed[/]"}


def show(step: rc.Step, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(rc_json(step) + "\n")
        sys.stdout.flush()
        return
    console.print(f"[bold]{step.env}/{step.service}[/] {MARKS[step.action]}: {escape(step.detail)}",
                  highlight=False, soft_wrap=True)


def rc_json(step: rc.Step) -> str:
    return json.dumps({"event": "step", **step.as_dict()}, sort_keys=True, default=str)


def events(as_json: bool):  # noqa: ANN201 - a Sink
    def emit(kind: str, data: dict[str, Any]) -> None:
        if as_json or kind not in ("info", "warn"):
            return
        err_console.print(f"  {'!' if kind == 'warn' else '·'} {escape(str(data.get('text', '')))}",
                          highlight=False, soft_wrap=True)
    return emit


@main.command("reconcile")
@click.option("--env", "env", help="Only this environment.")
@click.option("--watch", "interval", type=click.FloatRange(min=1.0), metavar="SECONDS",
              help="Run again every SECONDS until SIGTERM (which ends the current step first).")
@click.option("--once", is_flag=True, help="One pass, then exit (the default; for cron).")
@click.option("--yes", is_flag=True,
              help="Allow changes to production (else `auto: true` in its definition).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one per env+service and pass.")
@pass_context
def reconcile_command(ctx: Context, env: str | None, interval: float | None, once: bool, yes: bool,
                      as_json: bool) -> None:
    """Converge every rollout definition: a changed definition becomes a rollout with its
    strategy; a dead, missing or drifted member is replaced by a fresh one of the same verified
    image through the load balancer. Never an in-place change."""
    if env:
        names.env(env)
    if once and interval is not None:
        raise UsageError("--once and --watch exclude each other")
    stopping = threading.Event()
    if interval is not None:
        def on_term(signum: int, frame: Any) -> None:
            stopping.set()
            err_console.print("SIGTERM: stopping after the current step")
        previous = signal.signal(signal.SIGTERM, on_term)
        err_console.print(f"reconciling every {interval:g}s until SIGTERM", highlight=False)
    worst = 0
    try:
        while True:
            steps = rc.reconcile(ctx.project, env, yes, events(as_json),
                                 on_step=lambda step: show(step, as_json), stop=stopping.is_set)
            if not as_json:
                changed = [s for s in steps if s.action in ("rollout", "replace")]
                if steps and all(s.action == "noop" for s in steps):
                    console.print("nothing to do: everything runs as defined", highlight=False)
                elif changed:
                    console.print(f"converged {len(changed)} of {len(steps)}", highlight=False)
            worst = max(worst, 1 if any(s.action in ("refused", "failed") for s in steps) else 0)
            if interval is None or stopping.wait(interval):
                break
    finally:
        if interval is not None:
            signal.signal(signal.SIGTERM, previous)
    raise SystemExit(worst)
