"""The command group, shared options and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from bakery.errors import BakeryError
from bakery.project import Project, find_project, named_project

console = Console()
err_console = Console(stderr=True)


# Each command's module, loaded only when that command runs (like testinfra's backend registry):
# `bakery --help` and a no-op `bakery build` must not pay for docker, testinfra, the rollout
# stack and the SBOM library. The one-line help is kept here for the same reason.
COMMANDS: dict[str, tuple[str, str]] = {
    "base": ("bakery.cli.base", "Make a base image (e.g. debian:bookworm) available."),
    "build": ("bakery.cli.build", "Build images from their definitions; unchanged ones are up to date."),
    "cache": ("bakery.cli.cache", "The shared package cache builds use: status, start, prune."),
    "ci": ("bakery.cli.verify", "Lint, then build and verify the images changed since a revision."),
    "evidence": ("bakery.cli.evidence", "Export or verify an image's signed evidence (in-toto, DSSE)."),
    "drift": ("bakery.cli.drift", "Members against their verified image and definition (exit 3 on drift)."),
    "diff": ("bakery.cli.images", "Package changes between two builds of an image."),
    "history": ("bakery.cli.rollout", "Past rollouts and rollbacks, newest first."),
    "hosts": ("bakery.cli.hosts", "Hosts over SSH: bakery's key; check OS, engine, disk, clock, host keys."),
    "images": ("bakery.cli.images", "List built images: version, fingerprint, size, verification."),
    "keys": ("bakery.cli.evidence", "The project's signing keys (keys init)."),
    "lint": ("bakery.cli.definitions", "Validate every image and rollout definition (exit 2 on a problem)."),
    "patch": ("bakery.cli.patch", "Rebuild images with every package upgrade (nightly)."),
    "push": ("bakery.cli.registry", "Push a verified image to bakery's registry; print its digest."),
    "registry": ("bakery.cli.registry", "bakery's registry for hosts: up, status, down (TLS from its CA)."),
    "policy": ("bakery.cli.policy", "Evaluate the project's Rego policies (policy/*.rego)."),
    "reconcile": ("bakery.cli.reconcile", "Converge what runs to the definitions: rollouts, fresh members."),
    "report": ("bakery.cli.report", "Write a rollout's report: timelines, verdicts, plan (HTML + PNG)."),
    "rollback": ("bakery.cli.rollout", "All traffic back to the previous fleet in one step."),
    "rollout": ("bakery.cli.rollout", "Roll a service out: new fleet, health, canary, swap, drain."),
    "schema": ("bakery.cli.definitions", "Print a JSON Schema of the definition formats."),
    "state": ("bakery.cli.state", "The state store: show, check, migrate to another backend."),
    "status": ("bakery.cli.rollout", "Live version, colour, weights, health and lock per service."),
    "verify": ("bakery.cli.verify", "Check an image in a throwaway container (testinfra)."),
}


class BakeryGroup(click.Group):
    """Loads each command's module on first use, and turns BakeryError into one clear line on
    stderr and its exit code; never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            importlib.import_module(COMMANDS[name][0])  # its @main.command() registers it
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1] if name in COMMANDS else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BakeryError as exc:
            show_error(str(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            ctx.exit(130)


class Context:
    def __init__(self, project_dir: Path | None):
        self._project_dir = project_dir
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = (named_project(self._project_dir) if self._project_dir
                             else find_project())
        return self._project


pass_context = click.make_pass_decorator(Context)


@click.group(cls=BakeryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="BAKERY_PROJECT", help="Project folder (default: nearest with images/).")
@click.version_option(package_name="bakery")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None) -> None:
    """bakery: bake images from definitions, verify them, roll them out behind HAProxy."""
    ctx.obj = Context(project_dir)


def show_error(message: str, mark: str = "[bold red]error:[/]") -> None:
    """One error on stderr; the message is printed literally (it may quote user input)."""
    err_console.print(mark, end=" ")
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine output goes to stdout alone, as one JSON document."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def run() -> None:
    main(prog_name="bakery")
