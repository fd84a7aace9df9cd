"""Shared pieces of the CLI: the console, config loading, friendly errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from decayguard.config import DecayguardConfig, load_config

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ProjectOption = Annotated[
    Path,
    typer.Option("--project", "-p", help="Project folder (holding decayguard.yaml)."),
]


def config_for(project: Path) -> DecayguardConfig:
    return load_config(project)
