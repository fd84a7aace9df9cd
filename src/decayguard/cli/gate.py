"""``decayguard gate VERSION [--rerun]``: the champion/challenger gate's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from decayguard.cli.common import ProjectOption, config_for, console


def _figure(value: Any) -> str:
    return "" if value is None else f"{float(value):+.4f}"


def _print_report(report: Any) -> None:
    verdict = "[green]passed[/green]" if report.passed else "[red]failed[/red]"
    console.print(
        f"gate on version {report.version} against champion {report.champion_version}: {verdict}"
    )
    console.print(escape(report.reason), highlight=False)
    rows = ", ".join(f"{n} {source}" for source, n in report.rows.items())
    console.print(f"rows scored: {rows or 'none'}")
    decision = report.decision or {}
    table = Table(title="criteria")
    for column in ("criterion", "result", "Δ", "interval", "bound", "n", "method"):
        table.add_column(column)
    for c in decision.get("criteria", []):
        result = "pass" if c["passed"] else "FAIL"
        if not c.get("decides", True):
            result = f"({result}, reported only)"
        interval = (
            f"[{_figure(c.get('lower'))}, {_figure(c.get('upper'))}]"
            if c.get("lower") is not None or c.get("upper") is not None
            else ""
        )
        table.add_row(
            c["name"],
            result,
            _figure(c.get("delta")),
            interval,
            _figure(c.get("threshold")),
            "" if c.get("n") is None else str(c["n"]),
            c.get("method", ""),
        )
    if decision.get("criteria"):
        console.print(table)
    smoke = report.smoke
    if smoke is None:
        console.print("smoke test: not run")
    else:
        state = "passed" if smoke.get("passed") else "failed"
        figures = ", ".join(
            f"{key} {smoke[key]:.2f}"
            for key in ("champion_p99_ms", "challenger_p99_ms", "ratio")
            if isinstance(smoke.get(key), int | float)
        )
        console.print(f"smoke test: {state} ({escape(str(smoke.get('reason', '')))}) {figures}")


def gate(
    version: Annotated[str, typer.Argument(help="The registered version, e.g. 2.")],
    project: ProjectOption = Path("."),
    rerun: Annotated[
        bool, typer.Option("--rerun", help="Run the gate again instead of showing its report.")
    ] = False,
    server_url: Annotated[
        str | None,
        typer.Option(help="MLServer for the smoke test (default: the project's serving port)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show the champion/challenger gate's report on VERSION (running it when it never ran,
    or with --rerun). Exit status 1 when the challenger failed the gate."""
    from decayguard.training.gating import gate_once, stored_gate_report

    cfg = config_for(project)
    report = None if rerun else stored_gate_report(cfg, version)
    if report is None:
        report = gate_once(cfg, version, server_url=server_url)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        _print_report(report)
    if not report.passed:
        raise SystemExit(1)
