"""``decayguard serve``: run the project's model on MLServer, deploy and swap models.

decayguard serve                      start MLServer in the background, wait until ready
decayguard serve --stop               stop it (SIGTERM, wait, then SIGKILL the group)
decayguard serve deploy DIR [--challenger DIR --mode shadow|canary --canary-share 0.1]
decayguard serve status
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

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


@app.command("deploy")
def deploy(
    champion: Annotated[Path, typer.Argument(help="Exported model folder for the champion.")],
    project: ProjectOption = Path("."),
    challenger: Annotated[
        Path | None, typer.Option(help="Exported model folder for the challenger.")
    ] = None,
    mode: Annotated[str, typer.Option(help="Routing: champion, shadow or canary.")] = "champion",
    canary_share: Annotated[
        float | None, typer.Option(help="Share of traffic the challenger answers (canary).")
    ] = None,
) -> None:
    """Deploy exported models; a running server hot-swaps to them with no failed request."""
    if mode not in ("champion", "shadow", "canary"):
        raise typer.BadParameter("mode must be champion, shadow or canary", param_hint="--mode")
    from decayguard.serving.deploy import deploy_model

    cfg = config_for(project)
    process = _process(cfg)
    assert process.pid_file is not None
    server_url = process.url if _running_pid(process.pid_file) is not None else None
    chosen: Literal["champion", "shadow", "canary"] = mode  # type: ignore[assignment]
    settings = deploy_model(
        cfg,
        champion,
        challenger=challenger,
        mode=chosen,
        canary_share=canary_share,
        server_url=server_url,
    )
    where = "loaded into the running server" if server_url else "written (starts with the server)"
    version = settings.champion.model_version
    console.print(f"{cfg.model.name}: champion {version}, mode {settings.mode}: {where}")


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
