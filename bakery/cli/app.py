"""The command group, shared options and the one place errors become exit codes."""

from __future__ import annotations

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


class BakeryGroup(click.Group):
    """Turns BakeryError into one clear line on stderr and its exit code; never a traceback."""

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
