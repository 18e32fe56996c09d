"""bakery hosts key / check: bakery's SSH key, and what each host of an environment is like."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import click
from rich.table import Table

from bakery.cli.app import Context, console, main, pass_context, print_json
from bakery.errors import BakeryError
from bakery.hosts.facts import HostFacts, gather, judge
from bakery.hosts.inventory import env_hosts
from bakery.hosts.keys import known_hosts_path, make_key, public_line


class HostsFailed(BakeryError):
    exit_code = 1


@main.group()
def hosts() -> None:
    """Hosts over SSH: bakery's key, and a check of every host of an environment."""


@hosts.command("key")
@pass_context
def key(ctx: Context) -> None:
    """Make bakery's SSH key (once) and print its public half for authorized_keys."""
    path, made = make_key(ctx.project.state_dir)
    console.print(f"{'made' if made else 'using'} {path}", highlight=False)
    click.echo(public_line(ctx.project.state_dir))


def _row(facts: HostFacts, problems: list[str]) -> list[str]:
    free = f"{facts.free_mib} MiB" if facts.free_mib is not None else "-"
    skew = f"{facts.skew:+.2f}s" if facts.skew is not None else "-"
    verdict = "[green]ok[/]" if not problems else "[red]" + "; ".join(problems) + "[/]"
    return [facts.host, facts.address, facts.os or "-", facts.docker or "-", free, skew, verdict]


@hosts.command("check")
@click.argument("env")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def check(ctx: Context, env: str, as_json: bool) -> None:
    """OS, Docker version, free disk and clock skew of every host of ENV, over SSH.

    A host seen for the first time has its key recorded in .bakery/hosts/known_hosts (and its
    fingerprint printed); a changed key is refused. Exit 1 when any host is unreachable, has no
    engine, too little disk or a clock too far off.
    """
    project = ctx.project
    inventory = env_hosts(project, env)
    with ThreadPoolExecutor(max_workers=len(inventory.hosts)) as pool:
        facts = list(pool.map(lambda h: gather(h, project.state_dir, first_contact=True,
                                               registries=inventory.registries), inventory.hosts))
    verdicts = [judge(f, inventory.min_free_mib) for f in facts]
    if as_json:
        print_json([{"host": f.host, "address": f.address, "reachable": f.reachable, "os": f.os,
                     "kernel": f.kernel, "docker": f.docker, "free_mib": f.free_mib, "skew": f.skew,
                     "first_contact": [c.fingerprint for c in f.first_contact], "registries": f.registries,
                     "problems": p}
                    for f, p in zip(facts, verdicts, strict=True)])
    else:
        table = Table("host", "address", "os", "docker", "free", "clock", "verdict")
        for f, p in zip(facts, verdicts, strict=True):
            table.add_row(*_row(f, p))
        console.print(table)
        for f in facts:
            for c in f.first_contact:
                console.print(f"first contact with {f.host} ({c.host}): recorded its {c.key_type} key "
                              f"{c.fingerprint} in {known_hosts_path(project.state_dir)}", highlight=False,
                              soft_wrap=True)
    bad = [f.host for f, p in zip(facts, verdicts, strict=True) if p]
    if bad:
        raise HostsFailed(f"{len(bad)} of {len(facts)} host(s) of {env} cannot take a fleet: "
                          + ", ".join(bad))
