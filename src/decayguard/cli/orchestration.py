"""``decayguard up``, ``down`` and ``monitor``: the Prefect stack and the monitor flow."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from decayguard.cli.common import ProjectOption, config_for, console
from decayguard.errors import ConfigError
from decayguard.flows.names import MONITOR, RELEASE


def up(project: ProjectOption = Path(".")) -> None:
    """Start the project's Prefect server and flow runner in the background."""
    from decayguard.flows.stack import PrefectStack

    cfg = config_for(project)
    stack = PrefectStack(cfg).up()
    monitor = (
        f"every {cfg.monitoring.interval_minutes:g} min"
        if cfg.orchestration.schedule_monitor
        else "on demand"
    )
    triggers = [f"cron {cfg.training.schedule!r} (UTC)"] if cfg.training.schedule else []
    if cfg.training.on_decay:
        triggers.append(
            f"on decay (one per {cfg.training.trigger_window_minutes:g} min window, "
            f"{cfg.training.min_hours_between:g} h cooldown)"
        )
    console.print(
        f"up: Prefect API {cfg.orchestration.api_url} (pids {stack.running()}); "
        "stop with `decayguard down`"
    )
    for name in stack.deployments:
        schedule = monitor if name in (MONITOR, RELEASE) else " and ".join(triggers) or "on demand"
        console.print(f"  {name}: {schedule}")


def down(project: ProjectOption = Path(".")) -> None:
    """Stop what `decayguard up` started: the flow runner first, then the server."""
    from decayguard.flows.stack import PrefectStack

    stopped = PrefectStack(config_for(project)).down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def monitor(
    project: ProjectOption = Path("."),
    once: Annotated[bool, typer.Option("--once", help="Run the monitor flow once, now.")] = False,
    now: Annotated[
        str | None, typer.Option(help="End of the window (ISO time; default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run the monitor flow's body once (on the running Prefect stack if it is up)."""
    if not once:
        raise typer.BadParameter("only --once is supported here; `decayguard up` schedules runs")
    from decayguard.flows.stack import PrefectStack, apply_prefect_env

    cfg = config_for(project)
    end = None
    if now is not None:
        try:
            end = datetime.fromisoformat(now)
        except ValueError as exc:
            raise ConfigError(f"--now: not an ISO date-time: {now!r}") from exc
    from decayguard.watch.run import check_ready

    check_ready(cfg)  # a clear error now, not a failed flow run
    if cfg.orchestration.prefect_api_url or PrefectStack(cfg).running():
        apply_prefect_env(cfg)
    else:  # an ephemeral Prefect API, with its home in the project's state folder
        os.environ["PREFECT_HOME"] = str(cfg.path(cfg.project.state_dir).resolve() / "prefect")
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.pop("PREFECT_API_URL", None)
    from decayguard.flows.monitor import monitor_flow

    result = monitor_flow(str(cfg.root), end)
    if as_json:
        console.print_json(json.dumps(result, default=str))
        return
    table = Table(title=f"{result['model_name']} v{result['model_version']} at {result['now']}")
    table.add_column("strategy")
    table.add_column("decayed")
    table.add_column("evidence", overflow="fold")
    for strategy, verdict in result["verdicts"].items():
        table.add_row(strategy, "yes" if verdict["decayed"] else "no", verdict["reason"])
    console.print(table)
    console.print(f"drifted features: {', '.join(result['drifted_features']) or 'none'}")
