"""``decayguard version`` and ``decayguard init``, and the error boundary of the CLI."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from decayguard import __version__
from decayguard.cli.common import console, err_console
from decayguard.errors import DecayguardError
from decayguard.scaffold import scaffold_project


def version() -> None:
    """Print decayguard's version."""
    console.print(f"decayguard {__version__}")


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Scaffold a commented example project (decayguard.yaml, feature repo, training code)."""
    written = scaffold_project(folder, force=force)
    for path in written:
        console.print(f"[green]created[/green] {path}")
    console.print(
        f"Next: cd {folder} && decayguard store upgrade; your training function is in train.py"
    )


def run_app(app: typer.Typer) -> None:
    """Run the CLI; a :class:`DecayguardError` prints one clear line, not a traceback.

    Ctrl-C (SIGINT) stops every command, also when the launcher ignored it: a background job
    of a non-interactive shell inherits SIGINT ignored, and Python then never turns it into
    ``KeyboardInterrupt`` (`features serve` and `serve --foreground` hung in CI that way).
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = app(standalone_mode=False)
    except DecayguardError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # click's usage errors carry their own exit codes
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(code, int) and code:  # `raise typer.Exit(n)` returns n without standalone mode
        sys.exit(code)
