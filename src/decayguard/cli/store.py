"""``decayguard store ...``: schema migrations and counts."""

from __future__ import annotations

from pathlib import Path

import typer

from decayguard.cli.common import ProjectOption, config_for, console
from decayguard.store import create_store_engine, current_revision, head_revision, upgrade

app = typer.Typer(help="The decayguard store (SQLite or PostgreSQL).", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(project: ProjectOption = Path(".")) -> None:
    """Create or migrate the store's tables to the latest schema."""
    cfg = config_for(project)
    engine = create_store_engine(cfg.resolved_store_url)
    before = current_revision(engine)
    after = upgrade(engine)
    console.print(
        f"store {engine.url.render_as_string(hide_password=True)}: {before or 'empty'} -> {after}"
    )


@app.command("status")
def status_command(project: ProjectOption = Path(".")) -> None:
    """Show the store's URL and schema revision."""
    cfg = config_for(project)
    engine = create_store_engine(cfg.resolved_store_url)
    rev = current_revision(engine)
    state = "up to date" if rev == head_revision() else "needs `decayguard store upgrade`"
    console.print(
        f"store {engine.url.render_as_string(hide_password=True)}: {rev or 'empty'} ({state})"
    )
