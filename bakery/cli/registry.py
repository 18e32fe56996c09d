"""bakery registry up|status|down, and bakery push NAME[:VERSION]: the registry bakery runs on
this machine for its hosts, and verified images into it under an immutable tag."""

from __future__ import annotations

from typing import Any

import click

from bakery.build.docker_builder import build
from bakery.cli.app import Context, console, main, pass_context, print_json
from bakery.definitions.targets import RegistrySpec
from bakery.errors import RolloutError, UsageError
from bakery.project import Project
from bakery.registry import server
from bakery.registry.push import ensure_pushed, immutable_tag, repository
from bakery.registry.settings import project_settings
from bakery.rollout.inputs import require_verified
from bakery.store import builds, verifications
from bakery.store.db import open_store
from bakery.verify.runner import parse_ref
from bakery.verify.runner import verify as run_verify


def verified_registry_image(project: Project) -> str:
    """images/registry built (a no-op when built) and verified once, like the load balancer's."""
    rec = build(project, project.load_image("registry")).record
    conn = open_store(project)
    try:
        verified = verifications.is_verified(conn, rec.fingerprint)
    finally:
        conn.close()
    if not verified and not run_verify(project, rec.name, rec.version, fingerprint=rec.fingerprint).passed:
        raise RolloutError(f"the registry image registry {rec.version} failed verification; see "
                           f"`bakery verify registry:{rec.version}`")
    return rec.image_id


def registry_up(project: Project) -> server.RegistryStatus:
    """What `bakery registry up` does (the test fixtures start the registry through it)."""
    return server.up(project.state_dir, project_settings(project), verified_registry_image(project))


@main.group()
def registry() -> None:
    """The registry bakery runs on this machine for its hosts (TLS from bakery's own CA)."""


def _show(st: server.RegistryStatus, as_json: bool, verb: str = "") -> None:
    if as_json:
        print_json(st.as_dict())
        return
    what = f"{verb} " if verb else ""
    console.print(f"registry {what}{st.name}: {st.state}" + (f" ({st.health})" if st.health else ""),
                  highlight=False)
    if st.port is not None:
        where = ", ".join(f"{n}:{st.port}" for n in st.names)
        console.print(f"  hosts reach it at: {where}", highlight=False)
        console.print(f"  this machine pushes to: {st.local}", highlight=False)
    console.print(f"  storage volume: {st.volume}\n  CA: {st.ca}", highlight=False)


@registry.command("up")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def up(ctx: Context, as_json: bool) -> None:
    """Run the registry (kept as it is when it already runs as configured).

    Configured by `targets.registry.address` in rollout definitions (HOST:PORT as the hosts
    reach this machine). The CA and a certificate for those names are made under
    .bakery/registry/; hosts get the CA when a rollout first reaches them."""
    st = registry_up(ctx.project)
    _show(st, as_json, "kept" if st.reused else "started")


@registry.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    """Whether the registry runs, where, and its CA."""
    _show(server.status(ctx.project.state_dir), as_json)


@registry.command("down")
@click.option("--purge", is_flag=True, help="Also remove its volume (every pushed image).")
@pass_context
def down(ctx: Context, purge: bool) -> None:
    """Stop and remove the registry; its storage volume is kept unless --purge."""
    ran = server.down(ctx.project.state_dir, purge=purge)
    console.print(("removed the registry" if ran else "no registry was running")
                  + (" and its volume" if purge else ""), highlight=False)


def find_build(project: Project, ref: str) -> builds.BuildRecord:
    name, version = parse_ref(ref)
    conn = open_store(project)
    try:
        found = builds.find(conn, name, version)
    finally:
        conn.close()
    if not found:
        what = f"{name} {version}" if version else name
        raise UsageError(f"no build of {what} in this project; run `bakery build {name}` first")
    return found[0]


@main.command()
@click.argument("ref", metavar="NAME[:VERSION]")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def push(ctx: Context, ref: str, as_json: bool) -> None:
    """Push a verified build (default: the newest) to bakery's registry under its immutable tag
    fp-<fingerprint>, and print the digest hosts pull it by. Unverified builds are refused."""
    project = ctx.project
    rec = find_build(project, ref)
    require_verified(project, rec)
    st = server.running(project.state_dir)
    spec = RegistrySpec(st.names[0] if st.names else "127.0.0.1", st.port or 0)
    pushed: list[bool] = []
    pulled_by = ensure_pushed(project.state_dir, spec, rec.name, rec.fingerprint, rec.image_id,
                              on_push=lambda: pushed.append(True))
    digest = pulled_by.split("@", 1)[1]
    out: dict[str, Any] = {"image": rec.name, "version": rec.version, "fingerprint": rec.fingerprint,
                           "tag": f"{spec.address}/{repository(rec.name)}:{immutable_tag(rec.fingerprint)}",
                           "digest": digest, "ref": pulled_by, "pushed": bool(pushed)}
    if as_json:
        print_json(out)
        return
    console.print(f"{'pushed' if pushed else 'already in the registry:'} {rec.name} {rec.version} "
                  f"as {out['tag']}", highlight=False, soft_wrap=True)
    click.echo(digest)
