"""``decayguard labels ...``: deliver ground truth from CSV or Parquet files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from decayguard.cli.common import ProjectOption, config_for, console, err_console

app = typer.Typer(help="Ground-truth labels.", no_args_is_help=True)

_SHOWN = 10


def _listed(items: list[str]) -> str:
    head = ", ".join(items[:_SHOWN])
    return head + (f" … and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A .csv or .parquet file of labels.")],
    project: ProjectOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
    fail_on_unknown: Annotated[
        bool,
        typer.Option(help="Exit with status 1 if any label names an unknown prediction id."),
    ] = False,
) -> None:
    """Import labels, joined by prediction id or by entity key and event time.

    Columns: the label (model.target, or "label"); prediction_id, or the entity key
    (model.entity_key) with event_time; optionally model_name. Re-importing a file is
    harmless; a changed value is a correction (the history is kept). Labels are checked
    for model.task (a finite number for regression, a known class otherwise): a file
    with a bad label is refused whole, naming its line and column.
    """
    from decayguard.feedback.label_rules import LabelRules
    from decayguard.feedback.labels import LabelColumns, import_labels, read_label_file
    from decayguard.store import create_store_engine, ensure_schema

    cfg = config_for(project)
    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist", param_hint="FILE")
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        ensure_schema(engine)
        records = read_label_file(
            file,
            model_name=cfg.model.name,
            columns=LabelColumns.for_model(cfg.model.target, cfg.model.entity_key),
            rules=LabelRules.for_project(cfg, engine),
        )
        report = import_labels(engine, records)
    finally:
        engine.dispose()
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        console.print(
            f"{file}: {report.received} labels: {report.inserted} new, "
            f"{report.corrected} corrected, {len(report.duplicates)} already known",
            highlight=False,
            soft_wrap=True,
        )
        if report.repeated_in_delivery:
            err_console.print(
                f"repeated in the file (the last one counts): "
                f"{_listed(report.repeated_in_delivery)}",
                highlight=False,
                soft_wrap=True,
            )
        if report.unknown_prediction_ids:
            err_console.print(
                f"[yellow]not stored[/yellow], unknown prediction ids "
                f"({len(report.unknown_prediction_ids)}): "
                f"{_listed(report.unknown_prediction_ids)}",
                highlight=False,
                soft_wrap=True,
            )
        if report.unmatched_entity_labels:
            err_console.print(
                f"stored, but no prediction matches yet ({len(report.unmatched_entity_labels)}): "
                f"{_listed(report.unmatched_entity_labels)}",
                highlight=False,
                soft_wrap=True,
            )
    if fail_on_unknown and report.unknown_prediction_ids:
        # SystemExit, not typer.Exit: the CLI runs click with standalone_mode=False, which
        # turns typer.Exit into a return value that the entry point does not pass on.
        raise SystemExit(1)
