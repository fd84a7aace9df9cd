"""Shared pieces of the CLI: the console, config loading, friendly errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from decayguard.config import DecayguardConfig, load_config

# Off a terminal (a pipe, a log, CI) rich would wrap at 80 columns: give it room instead,
# so tables and messages keep one line each; rich never colours a non-terminal.
_WIDE = None if sys.stdout.isatty() else 500
console = Console(width=_WIDE, soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 500)

ProjectOption = Annotated[
    Path,
    typer.Option("--project", "-p", help="Project folder (holding decayguard.yaml)."),
]


def config_for(project: Path) -> DecayguardConfig:
    return load_config(project)
