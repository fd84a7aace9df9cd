"""``decayguard demo``: the closed-loop demo on simulated drifting traffic (real components)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from decayguard.cli.common import console


class DemoTaskName(StrEnum):
    """The model tasks the demo can run (``decayguard.sim.demo_tasks.DEMO_TASKS``)."""

    binary = "binary"
    multiclass = "multiclass"
    regression = "regression"


def _cell(detections: pd.DataFrame, onset: int, strategy: str) -> str:
    row = detections[(detections["onset"] == onset) & (detections["strategy"] == strategy)]
    if row.empty or pd.isna(row["detected_at"].iloc[0]):
        expected = bool(row["expected"].iloc[0]) if not row.empty else False
        return "[red]missed[/red]" if expected else "[dim]—[/dim]"
    at, delay = row["detected_at"].iloc[0], row["delay"].iloc[0]
    return f"{at:%b %d %H:%M} (+{delay.total_seconds() / 86400:.1f} d)"


def _figure(value: float | None, metric: str) -> str:
    return "—" if value is None else (f"{value:.1f}" if metric == "mae" else f"{value:.3f}")


def _fix_cells(recovery: Any) -> tuple[str, str, str]:
    m = recovery.metric
    started = recovery.retrain_started
    promoted = recovery.promoted_version
    return (
        f"{started:%b %d}" if started else "[red]no[/red]",
        f"v{promoted} {recovery.promoted_at:%b %d}" if promoted else "[red]no[/red]",
        f"{_figure(recovery.metric_before, m)}, {_figure(recovery.metric_worst, m)}, "
        f"{_figure(recovery.metric_after, m)} ({_figure(recovery.metric_never_retrain, m)})",
    )


def _recovery_table(recovery: Any) -> Table:
    """The fix half: what the loop did about the concept shift, and what it was worth."""
    m = recovery.metric
    table = Table(title=f"The concept shift, fixed: realized {m} (the simulator's truth)")
    for column in ("retrain started", "promoted", "rejected", "before", "worst", "after"):
        table.add_column(column)
    table.add_column("never retrained")
    table.add_row(
        f"{recovery.retrain_started:%b %d %H:%M}" if recovery.retrain_started else "[red]no[/red]",
        (
            f"v{recovery.promoted_version} {recovery.promoted_at:%b %d}"
            if recovery.promoted_version
            else "[red]no[/red]"
        ),
        ", ".join(f"v{v}" for v in recovery.rejected_versions) or "—",
        _figure(recovery.metric_before, m),
        _figure(recovery.metric_worst, m),
        _figure(recovery.metric_after, m),
        _figure(recovery.metric_never_retrain, m),
    )
    table.caption = (
        f"{recovery.retrains} retraining(s) trained a model; before: the week before the "
        "onset, worst: its worst day after, after: the last week, as it ran; never retrained: "
        "the same last week served by the first champion"
    )
    return table


def demo(
    folder: Annotated[
        Path, typer.Option(help="Fresh folder for the demo project (recreated on each run).")
    ] = Path("decayguard-demo"),
    fast: Annotated[bool, typer.Option("--fast", help="A smaller run (fewer requests).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 7,
    task: Annotated[
        DemoTaskName,
        typer.Option(
            help="What the model predicts: default or not (binary), the risk grade A-D "
            "(multiclass) or the amount lost on the loan (regression)."
        ),
    ] = DemoTaskName.binary,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the results to this JSON file.")
    ] = None,
) -> None:
    """Train and deploy a champion, replay weeks of drifting traffic through the real
    components (MLServer, Prefect, Feast, the control API) and show what each monitoring
    strategy detected, and when."""
    from decayguard.sim.demo import DemoSettings, run_demo

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        bar_task = bar.add_task("preparing", total=1.0)

        def progress(what: str, done: float) -> None:
            bar.update(bar_task, description=what, completed=done)

        result = run_demo(
            DemoSettings(folder=folder, fast=fast, seed=seed, task=task.value), progress
        )

    table = Table(title="Onsets in the simulation: when each strategy raised an alert, and the fix")
    table.add_column("onset")
    table.add_column("starts")
    table.add_column("proxy signals\n(drift, estimates)")
    table.add_column("reviewed sample")
    table.add_column("retrospective labels")
    table.add_column("retrain\nstarted")
    table.add_column("challenger\npromoted")
    recovery = result.recovery
    metric = recovery.metric if recovery else "metric"
    table.add_column(f"realized {metric}: before,\nworst, after (never retrained)")
    detections = result.score.detections
    for i, onset in enumerate(result.onsets):
        fixed = recovery is not None and onset.kind == "concept"
        table.add_row(
            f"{i + 1}. {onset.kind}",
            f"{onset.start:%b %d}",
            *(_cell(detections, i, s) for s in ("proxy", "review", "realized")),
            *(_fix_cells(recovery) if fixed else ("[dim]— (no decay)[/dim]", "—", "—")),
        )
    console.print(table)
    for i, onset in enumerate(result.onsets):
        console.print(f"  {i + 1}. {onset.description}", highlight=False)
    if result.recovery is not None:
        console.print(_recovery_table(result.recovery))
    false_alarms = result.score.false_alarms
    console.print(f"false alarms: {len(false_alarms)}")
    for alarm in false_alarms.itertuples():
        console.print(
            f"  {alarm.time:%b %d %H:%M} {alarm.strategy}: {alarm.reason} ({alarm.detail})"
        )
    alerts = Table(title=f"Alerts sent ({len(result.alerts_sent)}, via apprise to a webhook)")
    alerts.add_column("type")
    alerts.add_column("title", overflow="fold")
    for message in result.alerts_sent:
        alerts.add_row(str(message.get("type", "")), str(message.get("title", "")))
    console.print(alerts)
    console.print(
        f"{result.requests_sent} requests through MLServer ({result.request_failures} failed), "
        f"{result.labels_delivered} labels and {result.reviews_answered} reviews delivered, "
        f"{result.monitor_runs} monitor runs on Prefect, in {result.wall_seconds:.0f} s. "
        f"Project: {result.folder}"
    )
    console.print(
        "wall time by phase: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in result.phase_seconds.items())
    )
    if json_out is not None:
        json_out.write_text(json.dumps(result.summary(), indent=2, default=str))
    if result.request_failures:
        raise typer.Exit(1)
