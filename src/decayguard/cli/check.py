"""``decayguard check``: can each strategy decide with the configured windows?

A thin adapter over :func:`decayguard.watch.readiness.check_readiness`: it loads the config,
calls the check and prints the report (plain text when not on a terminal, or JSON).
Exit status: 0 when every strategy can decide, 1 when some cannot, 2 on a config error.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from decayguard.cli.common import ProjectOption, config_for
from decayguard.config import CONFIG_FILENAME
from decayguard.errors import ConfigError

if TYPE_CHECKING:
    from decayguard.watch.readiness import ReadinessReport, StrategyReadiness


def check(
    project: ProjectOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    now: Annotated[
        str | None, typer.Option(help="End of the history checked (ISO time; default: now).")
    ] = None,
    days: Annotated[
        float | None,
        typer.Option(
            min=0.1, help="Days of history to replay (default: 14, or twice the longest window)."
        ),
    ] = None,
) -> None:
    """Check the config, the deployment and whether each strategy can decide with its window
    on the project's recent traffic and label delays; say which keys to change if not."""
    try:
        cfg = config_for(project)
        end = _parse_time(now)
    except ConfigError as exc:
        if not as_json:
            raise
        error = {"file": str(project.resolve() / CONFIG_FILENAME), "error": str(exc)}
        typer.echo(json.dumps({"ready": False, "config": error}, indent=2))
        raise SystemExit(2) from exc
    from decayguard.watch.readiness import check_readiness  # numpy and the store: lazily

    report = check_readiness(cfg, end, lookback=timedelta(days=days) if days else None)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print(report)
    if report.exit_code:
        # SystemExit: the CLI runs click with standalone_mode=False (see cli/labels.py).
        raise SystemExit(report.exit_code)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--now: not an ISO date-time: {value!r}") from exc


def _print(report: ReadinessReport) -> None:
    out = Console(soft_wrap=True, highlight=False)  # no wrapping; colour on a terminal only
    champion = (
        f"champion version {report.champion_version}" if report.champion_version else "no champion"
    )
    out.print(f"config {escape(report.config_file)}: [green]valid[/green]")
    out.print(f"model {escape(report.model_name)} ({champion}); store {escape(report.store)}")
    if report.traffic:
        out.print(
            f"history: {report.traffic['history_days']:g} of the {report.lookback_days:g} days "
            f"before {report.now:%Y-%m-%d %H:%M} UTC"
        )
    for problem in report.problems:
        out.print(f"[red]problem:[/red] {escape(problem)}")
    width = max((len(s) for s in report.strategies), default=0)
    for name, strategy in report.strategies.items():
        out.print(f"{name.ljust(width)}  {_verdict(strategy)}: {escape(strategy.summary)}")
        pad = " " * (width + 2)
        for note in strategy.notes:
            out.print(f"{pad}note: {escape(note)}")
        for change in strategy.changes:
            verb = "or change" if change.alternative else "change"
            out.print(f"{pad}{verb} {escape(str(change))}")
    if report.ready:
        out.print("[green]every strategy can decide with the configured windows[/green]")
    elif report.undecided:
        names = ", ".join(report.undecided)
        out.print(
            f"[red]{len(report.undecided)} of {len(report.strategies)} strategies cannot "
            f"decide:[/red] {names}"
        )
    else:
        out.print("[red]the monitor cannot run until the problems above are fixed[/red]")


def _verdict(strategy: StrategyReadiness) -> str:
    if not strategy.can_decide:
        return "[red]cannot decide[/red]"
    return (
        "[yellow]can decide (provisional)[/yellow]"
        if strategy.provisional
        else "[green]can decide[/green]"
    )
