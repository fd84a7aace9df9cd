"""``decayguard report``: write the self-contained HTML report (charts and decisions)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from decayguard.cli.common import ProjectOption, config_for, console
from decayguard.errors import InputValidationError


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputValidationError(option, f"not an ISO 8601 time: {text!r}") from exc


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")],
    since: Annotated[
        str | None,
        typer.Option(help="Start (ISO 8601, UTC if no offset); default: 90 days before until."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="End, exclusive (ISO 8601); default: just after the latest point."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="The model (default: the project's model).")
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Write one self-contained HTML file: the dashboard's charts and every decision with
    its reason (decays, drift flags, gate reports, release transitions, incidents). It opens
    with no network: plotly.js and the data are inside."""
    from decayguard.dashboard.report import write_report
    from decayguard.store import create_store_engine, ensure_schema

    cfg = config_for(project)
    start, end = _when(since, "--since"), _when(until, "--until")
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        ensure_schema(engine)
        data = write_report(engine, cfg, out, since=start, until=end, model_name=model)
    finally:
        engine.dispose()
    r = data.time_range
    console.print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {data.model_name} from "
        f"{r.since.isoformat()} to {r.until.isoformat()}, {len(data.decisions)} decisions, "
        f"{len(data.transitions)} release transitions, {len(data.incidents)} incidents",
        highlight=False,
    )
