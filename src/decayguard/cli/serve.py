"""``decayguard serve``: run the project's model on MLServer, deploy and swap models.

decayguard serve                      start MLServer in the background, wait until ready
decayguard serve --stop               stop it (SIGTERM, wait, then SIGKILL the group)
decayguard serve deploy [DIR] [--challenger DIR --mode shadow|canary --canary-share 0.1]
                                      [--holdout FILE] [--reason TEXT]
decayguard serve status
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
import typer

from decayguard.cli.common import ProjectOption, config_for, console
from decayguard.config import DecayguardConfig
from decayguard.errors import ServiceError

if TYPE_CHECKING:
    from decayguard.serving.process import ServingProcess

app = typer.Typer(help="Serve the project's model on MLServer (decayguard runtime).")


def _process(cfg: DecayguardConfig) -> ServingProcess:
    # Imported here: the serving stack (pandas, pyarrow) should not slow every command.
    from decayguard.serving.process import ServingProcess

    return ServingProcess.from_config(cfg)


def _running_pid(pid_file: Path) -> int | None:
    import os

    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    project: ProjectOption = Path("."),
    stop: Annotated[bool, typer.Option("--stop", help="Stop the running server.")] = False,
    foreground: Annotated[
        bool, typer.Option("--foreground", help="Stay attached; Ctrl-C stops the server.")
    ] = False,
) -> None:
    """Start MLServer for the project (or stop it with --stop)."""
    if ctx.invoked_subcommand is not None:
        return
    from decayguard.serving.deploy import MODEL_SETTINGS, models_dir_for
    from decayguard.serving.process import stop_from_pid_file

    cfg = config_for(project)
    process = _process(cfg)
    assert process.pid_file is not None
    if stop:
        if stop_from_pid_file(process.pid_file):
            console.print("MLServer stopped")
        else:
            console.print("MLServer was not running")
        return
    running = _running_pid(process.pid_file)
    if running is not None:
        raise ServiceError(f"MLServer is already running (pid {running}); stop it with --stop")
    models = models_dir_for(cfg)
    if not (models / cfg.model.name / MODEL_SETTINGS).exists():
        raise ServiceError(
            f"no model deployed in {models}: run `decayguard serve deploy <exported folder>`"
        )
    process.start()
    try:
        process.wait_ready(cfg.serving.ready_timeout_seconds)
    except ServiceError:
        process.stop()
        raise
    console.print(
        f"MLServer ready at {process.url}/v2/models/{cfg.model.name}/infer "
        f"(pid {process.pid}, log {process.log_path})"
    )
    if foreground:
        try:
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            process.stop()


def _frame(path: Path | None, option: str) -> Any:
    if path is None:
        return None
    import pandas as pd

    try:
        return pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint=option) from exc


@app.command("deploy")
def deploy(
    champion: Annotated[
        Path | None, typer.Argument(help="Exported model folder to serve as the champion.")
    ] = None,
    project: ProjectOption = Path("."),
    challenger: Annotated[
        Path | None, typer.Option(help="Exported model folder to put on trial beside it.")
    ] = None,
    mode: Annotated[str, typer.Option(help="The challenger's stage: shadow or canary.")] = "shadow",
    canary_share: Annotated[
        float | None,
        typer.Option(help="Share of traffic the challenger answers (canary; default: config)."),
    ] = None,
    holdout: Annotated[
        Path | None,
        typer.Option(
            help="Parquet/CSV of features and the label the model did not train on: fits the "
            "monitoring baseline of a version that has none."
        ),
    ] = None,
    drift_reference: Annotated[
        Path | None,
        typer.Option(help="Parquet/CSV drift is measured against (default: the holdout)."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the release history).")] = (
        "deployed by hand"
    ),
) -> None:
    """Put exported models into service through the release: recorded, baselined, audited;
    a running server hot-swaps to them with no failed request."""
    if mode not in ("shadow", "canary"):
        raise typer.BadParameter("mode must be shadow or canary", param_hint="--mode")
    if champion is None and challenger is None:
        raise typer.BadParameter("give a champion folder or --challenger", param_hint="CHAMPION")
    import getpass

    from decayguard.release.champion import deploy_exported

    cfg = config_for(project)
    stage: Literal["shadow", "canary"] = "canary" if mode == "canary" else "shadow"
    outcome = deploy_exported(
        cfg,
        champion,
        challenger=challenger,
        stage=stage,
        canary_share=canary_share,
        holdout=_frame(holdout, "--holdout"),
        drift_reference=_frame(drift_reference, "--drift-reference"),
        actor=f"cli:{getpass.getuser()}",
        reason=reason,
    )
    where = (
        "loaded into the running server"
        if outcome.server_loaded
        else "written (the server reads it when it starts)"
    )
    trial = f", {outcome.candidate} in {outcome.stage}" if outcome.candidate else ""
    console.print(f"{cfg.model.name}: champion {outcome.champion}{trial}: {where}")


@app.command("status")
def status(project: ProjectOption = Path(".")) -> None:
    """Whether MLServer runs, and whether the model is ready."""
    cfg = config_for(project)
    process = _process(cfg)
    assert process.pid_file is not None
    pid = _running_pid(process.pid_file)
    if pid is None:
        console.print("MLServer is not running")
        return
    try:
        ready = httpx.get(f"{process.url}/v2/models/{cfg.model.name}/ready", timeout=2)
        state = "ready" if ready.status_code == 200 else f"not ready ({ready.status_code})"
    except httpx.HTTPError as exc:
        state = f"unreachable ({exc})"
    console.print(f"MLServer pid {pid} at {process.url}: model {cfg.model.name} {state}")
    from decayguard.serving.deploy import spool_dir_for
    from decayguard.serving.spool import SpoolReader

    spool = spool_dir_for(cfg)
    if spool.exists():
        waiting = SpoolReader(spool).pending_bytes()
        console.print(f"prediction log: {waiting:,} bytes in {spool} not yet in the store")
