"""``decayguard retrain``, ``models`` and ``lineage``: retraining, as a person runs and reads it.

A thin adapter: ``retrain`` calls :func:`decayguard.training.retrain_once` (a manual trigger,
no Prefect), ``models`` and ``lineage`` call :mod:`decayguard.training.inspect`. Progress goes
to stderr (a spinner on a terminal, one plain line per step elsewhere), results to stdout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from decayguard.cli.common import ProjectOption, config_for, console, err_console
from decayguard.errors import InputValidationError

if TYPE_CHECKING:
    from decayguard.features.lineage import TrainingSetLineage
    from decayguard.training.inspect import LineageCheck, VersionSummary
    from decayguard.training.retrain import RetrainOutcome

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
_REASON_WIDTH = 40
_HASH_WIDTH = 12


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputValidationError(option, f"not an ISO 8601 time: {text!r}") from exc


def _short(text: str | None, width: int) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """A progress callback: a spinner with the latest step on a terminal, else one line per
    step (on stderr either way, so ``--json`` output stays clean)."""
    if err_console.is_terminal:
        with err_console.status("retraining…") as status:

            def update(message: str) -> None:
                err_console.print(f"[dim]{datetime.now():%H:%M:%S}[/dim] {escape(message)}")
                status.update(escape(message) + "…")

            yield update
        return

    def line(message: str) -> None:
        err_console.print(f"retrain: {message}", highlight=False, markup=False)

    yield line


def _print_outcome(outcome: RetrainOutcome) -> None:
    status = outcome.status.replace("_", " ")
    headline = outcome.message
    if not headline.startswith(status):
        headline = f"{status}: {headline}"
    console.print(headline, highlight=False, markup=False)
    if outcome.version:
        console.print(
            f"version {outcome.version} (parent {outcome.parent_version or 'none'}), "
            f"lineage {(outcome.lineage_hash or '')[:_HASH_WIDTH]}",
            highlight=False,
        )
    if outcome.metrics or outcome.champion_metrics:
        table = Table(title="holdout metrics")
        table.add_column("metric")
        table.add_column(f"challenger v{outcome.version}", justify="right")
        table.add_column(f"champion v{outcome.parent_version or '?'}", justify="right")
        table.add_column("difference", justify="right")
        for name in sorted({*outcome.metrics, *outcome.champion_metrics}):
            mine, theirs = outcome.metrics.get(name), outcome.champion_metrics.get(name)
            delta = None if mine is None or theirs is None else mine - theirs
            table.add_row(
                name,
                _number(mine),
                _number(theirs),
                "" if delta is None else f"{delta:+.4f}",
            )
        console.print(table)
    if outcome.label_counts:
        counts = ", ".join(f"{k}: {v}" for k, v in outcome.label_counts.items())
        console.print(f"training labels: {counts}", highlight=False, markup=False)
    if outcome.timings:
        timings = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in outcome.timings.items())
        console.print(f"timings: {timings}", highlight=False, markup=False)


def retrain(
    project: ProjectOption = Path("."),
    reason: Annotated[
        str | None, typer.Option(help="Why you retrain (kept with the run and the version).")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            help="The retraining's clock, ISO 8601 (default: now); labels after it are not used."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Retrain the model now and register the result as the challenger.

    Builds the point-in-time training set (matured labels from the store, features from
    Feast, the last training.holdout_days held out), calls model.train_function in a child
    process with training.timeout_minutes, scores the new model and the serving champion on
    the holdout, and registers it in the model registry with its lineage. The champion keeps
    serving whatever happens. Exit status 0 when a version was registered, 1 when the run
    failed, waits for labels or was skipped.
    """
    from decayguard.training.retrain import RetrainTrigger, retrain_once

    cfg = config_for(project)
    clock = _when(now, "--now")
    with _progress() as progress:
        outcome = retrain_once(cfg, RetrainTrigger("manual", reason), now=clock, progress=progress)
    if as_json:
        typer.echo(json.dumps(outcome.to_dict(), indent=2, default=str))
    else:
        _print_outcome(outcome)
    if outcome.status != "registered":
        raise SystemExit(1)


def _models_table(rows: list[VersionSummary], metric: str) -> Table:
    table = Table(title="registered versions")
    for column in ("version", "aliases", "stage", "trigger", "created (UTC)"):
        table.add_column(column)
    table.add_column(f"holdout {metric}", justify="right")
    table.add_column(f"champion's {metric}", justify="right")
    table.add_column("training rows", justify="right")
    table.add_column("lineage")
    for row in rows:
        trigger = row.trigger or ""
        if row.reason:
            trigger += f" ({_short(row.reason, _REASON_WIDTH)})"
        table.add_row(
            row.version,
            ", ".join(row.aliases),
            row.stage,
            escape(trigger),
            f"{row.created_at:%Y-%m-%d %H:%M}",
            _number(row.metrics.get(metric)),
            _number(row.champion_metrics.get(metric)),
            "" if row.training_rows is None else str(row.training_rows),
            (row.lineage_hash or "")[:_HASH_WIDTH],
        )
    return table


def models(project: ProjectOption = Path("."), as_json: JsonOption = False) -> None:
    """List the model's registered versions: which serves, which is the challenger, why
    each was trained, how it scored on its holdout, and its training set's lineage hash."""
    from decayguard.training.inspect import model_versions, primary_metric, unregistered_attempts

    cfg = config_for(project)
    rows = model_versions(cfg)
    attempts = unregistered_attempts(cfg, last=1)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        return
    if not rows:
        console.print(f"{cfg.model.name}: no registered versions yet", highlight=False)
    else:
        console.print(_models_table(rows, primary_metric(cfg)))
    if attempts and (not rows or attempts[0]["started_at"] > rows[-1].created_at):
        latest = attempts[0]
        console.print(
            f"latest retraining registered nothing: {latest['status']} "
            f"(started {latest['started_at']:%Y-%m-%d %H:%M} UTC): "
            f"{_short(latest['message'], 200)}",
            highlight=False,
            markup=False,
        )


def _print_lineage(summary: VersionSummary, lineage: TrainingSetLineage) -> None:
    extra: dict[str, Any] = lineage.extra
    lines = [
        f"version {summary.version} ({summary.stage}; trigger {summary.trigger or '?'}"
        + (f": {summary.reason}" if summary.reason else "")
        + f"; training run {extra.get('training_run', '?')})",
        f"training window: {json.dumps(lineage.window, sort_keys=True)}, labels from "
        f"{lineage.window_start or 'the beginning'} to {lineage.window_end}",
        f"holdout: labels from {extra.get('holdout_start', '?')} "
        f"({extra.get('holdout_days', '?')} days), {extra.get('holdout_rows', '?')} rows; "
        f"training rows: {extra.get('train_rows', '?')}",
        f"labels as of: {extra.get('labels_as_of', '?')} (later corrections are not used)",
        "label counts: "
        + (", ".join(f"{k}: {v}" for k, v in summary.label_counts.items()) or "unknown"),
        f"feature service: {lineage.feature_service} (definition version "
        f"{lineage.feature_service_version}), Feast project {lineage.feast_project}",
        f"features: {', '.join(lineage.features)}",
        *(
            f"offline source: {uri} (SHA-256 {sha[:_HASH_WIDTH]})"
            for uri, sha in lineage.sources.items()
        ),
        f"frame: {lineage.rows} rows, {lineage.rows_without_features} without features",
        f"saved dataset: {lineage.saved_dataset_path or 'none'}",
        f"lineage hash: {lineage.frame_sha256}",
    ]
    for line in lines:
        console.print(line, highlight=False, markup=False)


def _print_check(check: LineageCheck) -> None:
    if check.same:
        console.print(
            f"verified: same hash ({check.rows} rows rebuilt from the store and Feast)",
            highlight=False,
        )
    else:
        console.print(f"not verified: {check.cause}", highlight=False, markup=False)


def lineage(
    version: Annotated[str, typer.Argument(help="The registered version, e.g. 2.")],
    project: ProjectOption = Path("."),
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Rebuild the training set from the store and Feast and compare its SHA-256.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show what a version was trained on: the window, the holdout, the labels' as-of time
    and counts, the Feast features and the training set's SHA-256. With --verify, rebuild it
    (exit status 1 when the hash differs, naming what changed)."""
    from decayguard.registry.mlflow_registry import registry_from_config
    from decayguard.training.inspect import lineage_of, verify_lineage, version_summary

    # MLflow draws a download progress bar for the one small lineage.json: not worth a line.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    cfg = config_for(project)
    registry = registry_from_config(cfg)
    summary = version_summary(cfg, version, registry)
    record = lineage_of(cfg, version, registry)
    if not as_json:
        _print_lineage(summary, record)
    check = verify_lineage(cfg, version, registry, lineage=record) if verify else None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "version": summary.to_dict(),
                    "lineage": record.to_dict(),
                    "verification": None if check is None else check.to_dict(),
                },
                indent=2,
                default=str,
            )
        )
    elif check is not None:
        _print_check(check)
    if check is not None and not check.same:
        raise SystemExit(1)
