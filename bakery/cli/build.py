"""bakery build: one or many images, in parallel, with a live view or JSON."""

from __future__ import annotations

import click

from bakery.build import builders
from bakery.build.progress import Progress
from bakery.build.runner import BuildResult, build_many, default_jobs
from bakery.cli.app import Context, console, err_console, main, pass_context, print_json
from bakery.cli.policy import after_build, raise_on_denials  # trust (issue 16)
from bakery.errors import BuildError


def result_json(r: BuildResult) -> dict:
    if r.outcome is None:
        return {"name": r.name, "version": r.version, "ok": False, "error": str(r.error),
                "exit_code": r.error.exit_code if r.error else 1}
    rec = r.outcome.record
    return {"name": rec.name, "version": rec.version, "ok": True, "fingerprint": rec.fingerprint,
            "image_id": rec.image_id, "up_to_date": r.outcome.up_to_date,
            "seconds": round(r.outcome.seconds, 2), "tags": r.outcome.tags,
            "packages": len(rec.manifest), "sbom": rec.sbom_path}


@main.command()
@click.argument("names", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Build every image under images/ (the default "
              "when no NAME is given).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="How many images to build at once [default: one per CPU core, at most 4].")
@click.option("--builder", type=click.Choice(sorted(builders.BUILDERS)), default="docker",
              show_default=True, help="Which builder renders the definition.")
@click.option("--no-cache", "nocache", is_flag=True, help="Do not reuse the engine's layer cache "
              "(an up-to-date image is still not rebuilt).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def build(ctx: Context, names: tuple[str, ...], build_all: bool, jobs: int | None, builder: str,
          nocache: bool, as_json: bool) -> None:
    """Build images from their definitions; an unchanged definition is not rebuilt."""
    project = ctx.project
    defns = project.load_images(None if build_all or not names else list(dict.fromkeys(names)))
    build_fn = builders.get(builder)
    with Progress(console, [(d.name, d.version) for d in defns], quiet=as_json) as progress:
        results = build_many(project, defns, build_fn, jobs=jobs or default_jobs(), on_event=progress,
                             nocache=nocache)
    if as_json:
        print_json({"images": [result_json(r) for r in results]})
    else:
        for r in results:
            if r.outcome is not None:
                rec = r.outcome.record
                state = "up to date" if r.outcome.up_to_date else f"built in {r.outcome.seconds:.1f}s"
                console.print(f"[green]✓[/] {rec.name} {rec.version} fp-{rec.short_fingerprint} "
                              f"{state} ({len(rec.manifest)} packages)", highlight=False)
    # --- trust (issue 16): policies on the build's facts; signed provenance and policy evidence
    findings = [f for r in results if r.outcome is not None
                for f in after_build(project, r.outcome.record, builder, stderr_only=as_json)]
    # --- end trust
    failed = [r for r in results if r.error is not None]
    if len(failed) == 1:
        raise failed[0].error  # type: ignore[misc]
    if failed:
        for r in failed:
            err_console.print(f"[bold red]error:[/] {r.error}", highlight=False, soft_wrap=True)
        code = max(r.error.exit_code for r in failed if r.error is not None)
        err = BuildError(f"{len(failed)} of {len(results)} images failed: "
                         + ", ".join(r.name for r in failed))
        err.exit_code = code
        raise err
    raise_on_denials(findings, " in the built image(s)")  # trust (issue 16)
