"""``decayguard features ...``: the project's Feast feature store (a thin adapter).

``apply``, ``materialize`` and ``serve`` wrap Feast's own operations on the project's feature
repo, after refreshing its ``feature_store.yaml`` from decayguard.yaml.
"""

from __future__ import annotations

import json
import signal
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import pandas as pd
import typer

from decayguard.cli.common import ProjectOption, config_for, console
from decayguard.errors import ConfigError, InputValidationError
from decayguard.features.lineage import TrainingSetLineage, compare_lineage
from decayguard.features.repo import FeatureRepo, rows_of
from decayguard.features.server import FeatureServer
from decayguard.features.windows import window_from_config

app = typer.Typer(help="The Feast feature store of the project.", no_args_is_help=True)


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return pd.Timestamp(text).to_pydatetime()
    except ValueError as exc:
        raise InputValidationError(option, f"not an ISO 8601 time: {text!r}") from exc


@app.command("apply")
def apply_command(project: ProjectOption = Path(".")) -> None:
    """Register the feature repo's definitions (`feast apply`)."""
    repo = FeatureRepo.from_config(config_for(project))
    console.print(repo.apply(), highlight=False)


@app.command("materialize")
def materialize_command(
    project: ProjectOption = Path("."),
    end: Annotated[
        str | None, typer.Option(help="Load values up to this time (default: now).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Reload from this time (default: incremental).")
    ] = None,
) -> None:
    """Load the latest feature values into the online store (Feast materialization)."""
    repo = FeatureRepo.from_config(config_for(project))
    until = repo.materialize(end=_when(end, "--end"), start=_when(start, "--start"))
    console.print(f"online store of {repo.project} up to date as of {until.isoformat()}")


@app.command("serve")
def serve_command(
    project: ProjectOption = Path("."),
    host: Annotated[str | None, typer.Option(help="Interface (default: from server_url).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: from server_url).")] = None,
    workers: Annotated[int, typer.Option(help="Feast server worker processes.")] = 1,
) -> None:
    """Run `feast serve` (HTTP online features) in the foreground until interrupted."""
    cfg = config_for(project)
    repo = FeatureRepo.from_config(cfg)
    url = urlsplit(cfg.features.server_url)
    if url.hostname is None or url.port is None:
        raise ConfigError(f"features.server_url: {cfg.features.server_url!r} needs a host and port")
    server = FeatureServer(
        repo.path, host=host or url.hostname, port=port or url.port, workers=workers
    )
    # feast serve runs in its own session (so that stopping it reaches its workers); a
    # SIGTERM to this command must stop it too, not orphan it.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.start().wait_ready()
        console.print(f"feast serve for {repo.path} at {server.url} (Ctrl-C stops it)")
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command("training-set")
def training_set_command(
    labels: Annotated[Path, typer.Argument(help="Labels file (CSV or parquet).")],
    out: Annotated[Path, typer.Option(help="Where to write the training frame (parquet).")],
    project: ProjectOption = Path("."),
    time_column: Annotated[str, typer.Option(help="Label time column.")] = "event_timestamp",
    end: Annotated[str | None, typer.Option(help="As-of time (default now).")] = None,
) -> None:
    """Build a point-in-time-correct training set; writes the frame and its lineage JSON."""
    cfg = config_for(project)
    repo = FeatureRepo.from_config(cfg)
    frame = _read_table(labels, label_column=cfg.model.target)
    built = repo.training_set(
        frame,
        window=window_from_config(cfg.features),
        end=_when(end, "--end"),
        time_column=time_column,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    built.frame.to_parquet(out, index=False)
    lineage_path = out.with_suffix(".lineage.json")
    lineage_path.write_text(built.lineage.to_json())
    console.print(
        f"{built.lineage.rows} rows ({built.lineage.rows_without_features} without features) "
        f"-> {out}\nlineage -> {lineage_path} (sha256 {built.lineage.frame_sha256[:16]}…)",
        highlight=False,
    )


@app.command("compare")
def compare_command(
    first: Annotated[Path, typer.Argument(help="Lineage JSON of the first training set.")],
    second: Annotated[Path, typer.Argument(help="Lineage JSON of the second training set.")],
) -> None:
    """Compare two training sets' lineage records."""
    result = compare_lineage(_read_lineage(first), _read_lineage(second))
    console.print(f"same data: {result.same_data}; same features: {result.same_features}")
    console.print(f"rows: {result.row_delta:+d}; overlapping label times: {result.overlap}")
    for key, (a, b) in result.differences.items():
        console.print(f"  {key}: {a!r} -> {b!r}", highlight=False)


@app.command("online")
def online_command(
    keys: Annotated[list[int], typer.Argument(help="Entity key values to look up.")],
    project: ProjectOption = Path("."),
) -> None:
    """Print the online feature values of some entities (in process, from the online store)."""
    cfg = config_for(project)
    key = cfg.model.entity_key
    if key is None:
        raise ConfigError("model.entity_key: needed to look up online features")
    repo = FeatureRepo.from_config(cfg)
    for row in rows_of(repo.online_features([{key: value} for value in keys])):
        typer.echo(json.dumps(row, default=str))


def _read_table(path: Path, *, label_column: str) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        # Labels are class names ("0"/"1"), not numbers: keep them text, as parquet does.
        return pd.read_csv(path, dtype={label_column: str})
    except (OSError, ValueError) as exc:
        raise InputValidationError(str(path), f"cannot read labels: {exc}") from exc


def _read_lineage(path: Path) -> TrainingSetLineage:
    try:
        return TrainingSetLineage.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise InputValidationError(str(path), f"not a lineage record: {exc}") from exc
