"""bakery rollout, rollback, status and history."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.cli.report import write_after_rollout
from bakery.definitions import names
from bakery.errors import RolloutError, UsageError
from bakery.model.environments import is_production
from bakery.project import Project
from bakery.rollout import service as service_api
from bakery.rollout.plan import Plan


class ProgressView:
    """Live view of a rollout: fleet health, weights and the latest analysis; lines for events."""

    def __init__(self, title: str, as_json: bool):
        self.title = title
        self.as_json = as_json
        self.phase = "starting"
        self.weights: dict[str, Any] = {}
        self.servers: list[dict[str, Any]] = []
        self.verdict: dict[str, Any] | None = None
        self.probes = ""
        self.live: Live | None = None
        self.output_lost = False

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        """Show one event. Output that cannot be written (`| head`, a closed terminal) must not
        stop a rollout halfway: it is dropped, and the rollout goes on to its end."""
        if self.output_lost:
            return
        try:
            self._show(kind, data)
        except (OSError, SystemExit):  # BrokenPipeError; rich turns a broken pipe into SystemExit(1)
            self.output_lost = True

    def _show(self, kind: str, data: dict[str, Any]) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps({"event": kind, **data}, default=str) + "\n")
            sys.stdout.flush()
            return
        out = self.live.console if self.live else console
        if kind == "phase":
            self.phase = data["phase"] + (f" step {data['step'] + 1}" if data.get("step", -1) >= 0 else "")
        elif kind == "weights":
            self.weights = data
            per = ", ".join(f"{c} {w}" for c, w in data["per_server"].items())
            out.print(f"[cyan]weights[/] {data['colour']} gets {data['green_percent']}% (per server: {per})",
                      highlight=False)
        elif kind == "tick":
            self.servers = data["servers"]
            self.probes = f"{data['probes']} probe(s), {data['probe_errors']} error(s)"
        elif kind == "verdict":
            self.verdict = data
            colour = {"pass": "green", "fail": "red"}.get(data["outcome"], "yellow")
            out.print(f"[{colour}]analysis step {data['step']} ({data['weight']}%): {data['outcome']}[/] "
                      f"{escape(data['summary'])} [dim](HAProxy: {data['lb_requests']} req, "
                      f"{data['lb_errors']} 5xx; "
                      f"probes: {data['probes']}, {data['probe_errors']} errors)[/]", highlight=False)
        elif kind == "health":
            out.print(f"[green]✓[/] {data['colour']} healthy: "
                      + ", ".join(f"{mb['name']} ({mb['ip']})" for mb in data["members"]), highlight=False)
        elif kind == "warn":
            out.print(f"[yellow]![/] {escape(data['text'])}", highlight=False)
        elif kind in ("info",):
            out.print(f"  {escape(data['text'])}", highlight=False)
        elif kind == "build":
            out.print(f"  [dim]lb image: {escape(data['text'])}[/]", highlight=False)
        elif kind == "start":
            out.print(f"[bold]{self.title}[/]: {data['strategy']} to {data['colour']} ({data['version']}), "
                      f"live: {data['live'] or 'nothing yet'}; rollout {data['rollout_id']}", highlight=False)
        elif kind == "done":
            self.phase = data["status"]

    def __rich__(self) -> Group:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("server", "status", "weight", "sessions", "requests", "5xx"):
            table.add_column(col)
        for row in self.servers:
            table.add_row(row["server"], row["status"], str(row["weight"]), str(row["sessions"]),
                          str(row["requests"]), str(row["5xx"]))
        parts: list[Any] = [Text(f"{self.title} · {self.phase}", style="bold")]
        if self.weights:
            parts.append(Text(f"{self.weights['colour']} at {self.weights['green_percent']}%"))
        if self.servers:
            parts.append(table)
        if self.probes:
            parts.append(Text(f"probes: {self.probes}", style="dim"))
        if self.verdict:
            parts.append(Text(f"last analysis: {self.verdict['outcome']}: {self.verdict['summary']}"))
        return Group(*parts)

    def running(self):  # noqa: ANN201 - a context manager
        if self.as_json or not console.is_terminal:
            return nullcontext()
        self.live = Live(self, console=console, refresh_per_second=4, transient=True)
        return self.live


def print_plan(plan: Plan) -> None:
    live = f"{plan.live.version} ({plan.live.colour})" if plan.live else "nothing"
    t = plan.target
    console.print(f"[bold]plan[/] {plan.service} in {plan.env}: {t.image_name} {t.version} "
                  f"(fp-{plan.target.fingerprint[:12]}); live now: {live}", highlight=False)
    for note in plan.notes:
        console.print(f"  note: {note}", highlight=False)
    if plan.noop:
        return
    console.print(f"  strategy: {plan.strategy}, new colour: {plan.colour}", highlight=False)
    elapsed = 0.0
    for i, step in enumerate(plan.steps, 1):
        weight = "" if step.green_weight is None else f" → new fleet at {step.green_weight}%"
        console.print(f"  {i}. t+{elapsed:>5.1f}s  {step.what}{weight}", highlight=False, soft_wrap=True)
        elapsed += step.seconds
    console.print(f"  expected duration: about {plan.expected_seconds:.0f}s", highlight=False)
    console.print(f"  rollback path: {plan.rollback}", highlight=False, soft_wrap=True)
    console.print("  (nothing was changed)", style="dim")


def confirm_production(env: str, yes: bool, what: str) -> None:
    if not is_production(env) or yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{what} in {env} (production) needs --yes (or a confirmation at a terminal)")
    click.confirm(f"{what} in {env} (production)?", abort=True)


@main.command()
@click.argument("service")
@click.option("--env", "env", required=True, help="Environment (a folder under rollouts/).")
@click.option("--image", "image",
              help="VERSION or NAME:VERSION (default: the definition's, else the newest build).")
@click.option("--canary", is_flag=True, help="Canary steps with analysis before the full swap.")
@click.option("--plan", "plan_only", is_flag=True, help="Print the steps and change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (production).")
@click.option("--force", is_flag=True,
              help="Override an unmet requires.succeeded_in (needs --reason; recorded in history).")
@click.option("--reason", help="Why --force overrides the requirement (recorded with who).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one per event, then the result.")
@pass_context
def rollout(ctx: Context, service: str, env: str, image: str | None, canary: bool, plan_only: bool,
            yes: bool, force: bool, reason: str | None, as_json: bool) -> None:
    """Roll SERVICE out in ENV: new fleet, health, (canary,) swap, drain; blue kept for rollback."""
    project = ctx.project
    if reason is not None and not force:
        raise UsageError("--reason goes with --force")
    if force and not (reason or "").strip():
        raise UsageError("--force needs --reason TEXT: why the requirement is overridden is recorded")
    force_reason = reason if force else None
    if plan_only:
        plan = service_api.plan_rollout(project, env, service, image, canary, force_reason=force_reason)
        if as_json:
            print_json({"plan": plan.as_dict()})
        else:
            print_plan(plan)
        return
    confirm_production(env, yes, f"roll out {service}")
    view = ProgressView(f"{service}@{env}", as_json)
    with view.running():
        outcome = service_api.rollout(project, env, service, image, canary, on_event=view,
                                      force_reason=force_reason)
    finish(project, outcome, as_json, service, env)


def finish(project: Project, outcome: service_api.Outcome, as_json: bool, service: str, env: str) -> None:
    ended = outcome.status in ("succeeded", "failed") and outcome.rollout_id
    report = write_after_rollout(project, outcome.rollout_id) if ended else None
    if as_json:  # the last of the JSON lines: one line like every event, so `jq -c`/line readers work
        sys.stdout.write(json.dumps({"event": "result", "status": outcome.status,
                                     "rollout_id": outcome.rollout_id, "reason": outcome.reason,
                                     "url": outcome.url, "verdicts": outcome.verdicts,
                                     "report": str(report) if report else None}, default=str) + "\n")
    if outcome.status == "failed":
        if report and not as_json:
            err_console.print(f"report: {report}", highlight=False, soft_wrap=True)
        raise RolloutError(f"{service} in {env}: {outcome.reason}")
    if report and not as_json:
        console.print(f"report: {report}", highlight=False, soft_wrap=True)
    if not as_json:
        if outcome.status == "noop":
            console.print(f"[green]✓[/] nothing to do: {outcome.reason}", highlight=False)
        else:
            console.print(f"[green]✓[/] {service} in {env}: {outcome.status}", highlight=False)
        console.print(f"{service} answers at {outcome.url}", highlight=False)


@main.command()
@click.argument("service")
@click.option("--env", "env", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (production).")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def rollback(ctx: Context, service: str, env: str, yes: bool, as_json: bool) -> None:
    """All traffic back to the previous fleet in one step (kept running for the rollback window)."""
    confirm_production(env, yes, f"roll back {service}")
    view = ProgressView(f"{service}@{env}", as_json)
    outcome = service_api.rollback(ctx.project, env, service, on_event=view)
    finish(ctx.project, outcome, as_json, service, env)


@main.command()
@click.option("--env", "env", help="Only this environment.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def status(ctx: Context, env: str | None, as_json: bool) -> None:
    """Per environment: live version and colour, weights, health, the previous fleet, the lock."""
    if env:
        names.env(env)
    rows = service_api.status(ctx.project, env)
    if as_json:
        print_json({"services": rows})
        return
    if not rows:
        console.print("no rollout definitions")
    for row in rows:
        live = row["live"]
        head = (f"[bold]{row['env']}/{row['service']}[/] "
                + (f"live {live['version']} ({live['colour']}, fp-{live['fingerprint']}, "
                   f"{'healthy' if live['healthy'] else 'NOT healthy'}) at {row['url']}" if live
                   else f"not live (load balancer {row['lb']})"))
        console.print(head, highlight=False)
        if row.get("detached"):
            lost = row["detached"]
            console.print("  [yellow]![/] the load balancer has no fleet in rotation (its runtime state was "
                          f"lost) while {lost['version']} ({lost['colour']}, "
                          f"{'running' if lost['running'] else 'stopped'}) is the live fleet: "
                          f"`bakery rollout {row['service']} --env {row['env']} --image {lost['image']}` "
                          "puts it back (and changes nothing else)",
                          highlight=False)
        if row["standby"]:
            sb = row["standby"]
            console.print(f"  previous: {sb['version']} ({sb['colour']}, "
                          f"{'running' if sb['running'] else 'stopped'}): `bakery rollback` goes here",
                          highlight=False)
        if row["weights"]:
            console.print("  weights: " + ", ".join(f"{c} {w}" for c, w in row["weights"].items()),
                          highlight=False)
        for srv in row["servers"]:
            console.print(f"    {srv['server']:<8} {srv['status']:<10} weight {srv['weight']:<4} "
                          f"{srv['addr']:<22} sessions {srv['sessions']} requests {srv['requests']}",
                          highlight=False)
        if row["lb"] == "stopped":
            console.print(f"  [yellow]![/] the load balancer is stopped: nothing is served; "
                          f"`bakery rollout {row['service']} --env {row['env']}` starts it again",
                          highlight=False)
        for host in row.get("hosts", []):
            why = f" ({host['why']})" if host["why"] else ""
            console.print(f"  host {host['host']} {host['address']}: {host['state']}{why}", highlight=False)
        for svc in row.get("swarm", []):  # a Swarm fleet: tasks desired vs running, per node
            nodes = ", ".join(f"{n} {c['running']}/{c['desired']}" for n, c in svc["nodes"].items())
            console.print(f"  swarm {svc['service']} ({svc['colour']} {svc['version']}): {svc['running']}/"
                          f"{svc['desired']} running; {nodes}", highlight=False)
        console.print(f"  lock: {row['lock'] or 'free'}", highlight=False)


@main.command()
@click.argument("service", required=False)
@click.option("--env", "env")
@click.option("--limit", default=20, show_default=True)
@click.option("--steps", "show_steps", is_flag=True, help="Also print each journaled step.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def history(ctx: Context, service: str | None, env: str | None, limit: int, show_steps: bool,
            as_json: bool) -> None:
    """Past rollouts and rollbacks, newest first."""
    if env:
        names.env(env)
    if service:
        names.service(service)
    found = service_api.history(ctx.project, env, service, limit, with_steps=show_steps or as_json)
    if as_json:
        print_json({"history": [{**p.row.as_dict(), "steps": p.steps, "report": p.report,
                                 "override": p.override} for p in found]})
        return
    if not found:
        err_console.print("no rollouts yet")
    for past in found:
        r = past.row
        colour = {"succeeded": "green", "failed": "red"}.get(r.status, "yellow")
        prev = f" (from {r.prev_version})" if r.prev_version else ""
        console.print(f"{r.started[:19]} {r.env}/{r.service} {r.kind} {r.strategy} {r.image_name} "
                      f"{r.version}{prev} "
                      f"[{colour}]{r.status}[/] {r.id}" + (f": {escape(r.reason)}" if r.reason else ""),
                      highlight=False, soft_wrap=True)
        if past.override:
            o = past.override
            console.print(f"    [yellow]forced[/] by {escape(o['who'])}: {escape(o['reason'])} "
                          f"(overrode: {escape(o['requirement'])})", highlight=False, soft_wrap=True)
        if past.report:
            console.print(f"    report: {escape(past.report)}", highlight=False, soft_wrap=True)
        for s in past.steps:
            detail = escape(json.dumps(s["detail"]))
            console.print(f"    {s['at'][11:23]} {s['phase']:<10} {s['action']} {detail}",
                          highlight=False)
