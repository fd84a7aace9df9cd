"""``retrain_once``: one retraining, the core that the retrain flow, the CLI and the backtest call.

1. **Claim** the trigger in the store (single-flight; see :mod:`decayguard.store.training_runs`)
   and respect the cooldown ``training.min_hours_between`` (a manual retraining skips it).
2. **Build** the point-in-time training set and its holdout from matured labels and Feast
   (:mod:`decayguard.training.sets`); too few labels ends the run as ``waiting_for_labels``.
3. **Fit** with the user's ``model.train_function`` in a child process with a timeout
   (:mod:`decayguard.training.fitting`), exported hash-pinned.
4. **Score** the challenger, and the serving champion, on the holdout.
5. **Register** the version in the model registry (MLflow) with its run: parameters, lineage,
   the training and holdout datasets, holdout metrics; alias ``challenger`` - the hand-over to
   the gate.

Nothing here touches serving: whatever happens, the champion keeps serving. A failure of the
training function ends the run ``failed`` with a reason naming the function and raises the
``retrain`` alert; the next successful retraining resolves it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from decayguard.alerts.incidents import IncidentTracker, Signal
from decayguard.alerts.notify import Notifier
from decayguard.config import DecayguardConfig
from decayguard.errors import ArtifactError, DecayguardError, TrainingError
from decayguard.features.repo import FeatureRepo
from decayguard.monitoring.task_base import ModelOutputs, ModelTask
from decayguard.registry import ArtifactManifest, load_model
from decayguard.registry.interface import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    TAG_LINEAGE_HASH,
    TAG_PARENT,
    TAG_SHA256,
    TAG_TRIGGER,
    DatasetInput,
    ModelRegistry,
    ModelVersionRecord,
    RunRecord,
    registry_for,
)
from decayguard.store import audit
from decayguard.store.deployments import (
    active_artifact_sha256,
    active_artifact_uri,
    active_version,
)
from decayguard.store.migrate import migrated_engine
from decayguard.store.releases import register_release
from decayguard.store.schema import as_utc
from decayguard.store.training_runs import claim_training, finish_training, last_training
from decayguard.training.fitting import FitResult, fit_in_subprocess
from decayguard.training.sets import RetrainingData, WaitingForLabels, build_retraining_data

TriggerKind = Literal["schedule", "decay", "manual"]
Status = Literal["registered", "waiting_for_labels", "failed", "skipped"]
RETRAIN_RULE = "retrain"


@dataclass(frozen=True)
class RetrainTrigger:
    """Why a retraining starts. ``at`` is the event's (or schedule slot's) time."""

    kind: TriggerKind
    reason: str | None = None
    at: datetime | None = None
    since: datetime | None = None
    """Where the decay began (the monitor's estimate): a decay retraining with
    ``training.decay_data: since_decay`` learns from labels since then only."""

    def key(self, cfg: DecayguardConfig, now: datetime) -> str:
        """The trigger window: decay events inside one ``training.trigger_window_minutes``
        are one trigger; a schedule slot is one trigger; every manual request is its own."""
        moment = as_utc(self.at or now)
        if self.kind == "decay":
            width = cfg.training.trigger_window_minutes * 60
            start = datetime.fromtimestamp(moment.timestamp() // width * width, UTC)
            return f"decay:{start.isoformat()}"
        if self.kind == "schedule":
            return f"schedule:{moment.replace(second=0, microsecond=0).isoformat()}"
        return f"manual:{datetime.now(UTC).isoformat()}"


@dataclass(frozen=True)
class RetrainOutcome:
    """What one retraining did; ``message`` says it in a sentence."""

    status: Status
    model_name: str
    trigger: str
    message: str
    run_id: str | None = None
    version: str | None = None
    parent_version: str | None = None
    lineage_hash: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    """The challenger's realized metrics on the holdout."""
    champion_metrics: dict[str, float] = field(default_factory=dict)
    """The serving champion's, on the same holdout rows."""
    label_counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds: ``training_set``, ``fit`` (the user's function), ``fit_process``, ``score``,
    ``register``, ``total``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def exported_outputs(
    cfg: DecayguardConfig, task: ModelTask, folder: Path, sha256: str, rows: pd.DataFrame
) -> ModelOutputs:
    """What the exported model in ``folder`` (pinned to ``sha256``) says about ``rows``."""
    exported = load_model(folder, sha256=sha256)
    names = [f.name for f in cfg.model.features]
    return task.outputs_from_scores(exported.model.predict_scores(rows[names]))


def _holdout_metrics(
    cfg: DecayguardConfig, task: ModelTask, folder: Path, sha256: str, holdout: pd.DataFrame
) -> dict[str, float]:
    if holdout.empty:
        return {}
    outputs = exported_outputs(cfg, task, folder, sha256, holdout)
    y = task.labels_array(holdout[cfg.model.target].to_numpy())
    report = task.realized(y, outputs, confidence=cfg.monitoring.confidence)
    return {name: float(m.value) for name, m in report.items() if np.isfinite(m.value)}


def _signal(cfg: DecayguardConfig, firing: bool, message: str) -> Signal:
    return Signal(cfg.model.name, RETRAIN_RULE, firing, "warning", message)


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(now - since, 4)
        return now

    def total(self) -> dict[str, float]:
        return {**self.timings, "total": round(time.perf_counter() - self._start, 4)}


def retrain_once(
    cfg: DecayguardConfig,
    trigger: RetrainTrigger,
    *,
    now: datetime | None = None,
    labels_as_of: datetime | None = None,
    registry: ModelRegistry | None = None,
    repo: FeatureRepo | None = None,
    notifier: Notifier | None = None,
    progress: Callable[[str], None] | None = None,
) -> RetrainOutcome:
    """One retraining of the project's model (see the module doc).

    ``now`` is the retraining's clock (default: the wall clock), ``labels_as_of`` the moment
    the store's labels are read at (default: the wall clock). Infrastructure failures (store,
    Feast, MLflow) are recorded and raised; a failing training function is recorded,
    alerted and returned as a ``failed`` outcome.
    """
    say = progress or (lambda _message: None)
    now = as_utc(now or datetime.now(UTC))
    as_of = as_utc(labels_as_of or datetime.now(UTC))
    name = cfg.model.name
    with migrated_engine(cfg.resolved_store_url) as engine:
        parent = active_version(engine, name)
        claim = claim_training(
            engine,
            name,
            trigger=trigger.kind,
            trigger_key=trigger.key(cfg, now),
            as_of=now,
            lease=timedelta(minutes=cfg.training.timeout_minutes + 30),
            reason=trigger.reason,
            parent_version=parent,
        )
        if not claim.granted:
            holder = claim.refused_by or {}
            message = (
                f"skipped: retraining {holder.get('id', '?')[:8]} ({holder.get('status', '?')}, "
                f"trigger {holder.get('trigger_key', '?')}) holds this model or trigger window"
            )
            return RetrainOutcome("skipped", name, trigger.kind, message, parent_version=parent)
        assert claim.run_id is not None
        run_id = claim.run_id
        if trigger.kind != "manual":
            last = last_training(engine, name, statuses=("registered",), exclude_run=run_id)
            cooldown = timedelta(hours=cfg.training.min_hours_between)
            if last is not None and as_utc(last["as_of"]) > now - cooldown:
                message = (
                    f"skipped: cooldown; version {last['version']} was trained at "
                    f"{as_utc(last['as_of']):%Y-%m-%d %H:%M} UTC, within "
                    f"training.min_hours_between ({cfg.training.min_hours_between:g} h)"
                )
                finish_training(engine, run_id, "skipped", message=message)
                return RetrainOutcome(
                    "skipped", name, trigger.kind, message, run_id=run_id, parent_version=parent
                )
        try:
            return _train(
                cfg, engine, trigger, run_id, parent, now, as_of, registry, repo, notifier, say
            )
        except BaseException as exc:
            finish_training(engine, run_id, "failed", message=f"{type(exc).__name__}: {exc}")
            raise


def _train(
    cfg: DecayguardConfig,
    engine: Engine,
    trigger: RetrainTrigger,
    run_id: str,
    parent: str | None,
    now: datetime,
    as_of: datetime,
    registry: ModelRegistry | None,
    repo: FeatureRepo | None,
    notifier: Notifier | None,
    say: Callable[[str], None],
) -> RetrainOutcome:
    from decayguard.watch.run import project_task

    name = cfg.model.name
    clock = _Clock()
    tracker = IncidentTracker.for_config(cfg, engine, notifier)
    task = project_task(cfg, engine)
    say("building the training set (store labels + Feast point-in-time join)")
    t = time.perf_counter()
    repo = repo or FeatureRepo.from_config(cfg)
    since = (
        trigger.since
        if trigger.kind == "decay" and cfg.training.decay_data == "since_decay"
        else None
    )
    data = build_retraining_data(
        cfg, engine, repo, task, now=now, labels_as_of_time=as_of, since=since
    )
    t = clock.lap("training_set", t)
    if isinstance(data, WaitingForLabels):
        finish_training(engine, run_id, "waiting_for_labels", message=data.message)
        audit(engine, "training.waiting_for_labels", model_name=name, details=asdict(data))
        return RetrainOutcome(
            "waiting_for_labels",
            name,
            trigger.kind,
            data.message,
            run_id=run_id,
            parent_version=parent,
            timings=clock.total(),
        )
    work = cfg.path(cfg.project.state_dir).resolve() / "training" / run_id
    work.mkdir(parents=True, exist_ok=True)
    (work / "lineage.json").write_text(data.lineage.to_json())
    say(f"fitting {cfg.model.train_function} on {len(data.training)} rows")
    try:
        fit = fit_in_subprocess(cfg, data.training, work)
    except TrainingError as exc:
        t = clock.lap("fit_process", t)
        message = f"retraining failed, the champion keeps serving: {exc}"
        finish_training(engine, run_id, "failed", message=message)
        audit(engine, "training.failed", model_name=name, details={"error": str(exc)})
        tracker.process([_signal(cfg, True, message)], now=now)
        return RetrainOutcome(
            "failed",
            name,
            trigger.kind,
            message,
            run_id=run_id,
            parent_version=parent,
            lineage_hash=data.lineage.frame_sha256,
            label_counts=data.training.metadata.label_counts,
            timings=clock.total(),
        )
    clock.timings["fit"] = round(fit.fit_seconds, 4)
    t = clock.lap("fit_process", t)
    say("scoring the challenger and the champion on the holdout")
    metrics = _holdout_metrics(cfg, task, fit.folder, fit.manifest.sha256, data.holdout)
    champion_folder = active_artifact_uri(engine, name)
    champion_sha = active_artifact_sha256(engine, name)
    champion_metrics: dict[str, float] = {}
    if champion_folder and champion_sha and Path(champion_folder).is_dir():
        try:
            champion_metrics = _holdout_metrics(
                cfg, task, Path(champion_folder), champion_sha, data.holdout
            )
        except DecayguardError as exc:
            say(f"could not score the champion on the holdout: {exc}")
    t = clock.lap("score", t)
    say("registering the challenger in the model registry")
    registry = registry_for(cfg, registry)
    _register_champion_first(cfg, registry, parent, champion_folder)
    record = registry.register(
        name,
        _exporter(cfg, fit),
        _run_record(cfg, trigger, run_id, parent, data, fit, metrics, champion_metrics),
        alias=CHALLENGER_ALIAS,
    )
    clock.lap("register", t)
    assert record.sha256 is not None  # every registration tags its artifact's hash
    register_release(
        engine,
        name,
        record.version,
        artifact_uri=str(_artifact_folder(cfg, record.version)),
        artifact_sha256=record.sha256,
        parent_version=parent,
        reason=f"retrained ({trigger.kind}{': ' + trigger.reason if trigger.reason else ''})",
        now=now,
    )
    message = (
        f"registered version {record.version} as {CHALLENGER_ALIAS} "
        f"({len(data.training)} training rows, {len(data.holdout)} holdout rows)"
    )
    finish_training(
        engine,
        run_id,
        "registered",
        version=record.version,
        message=message,
        details={"metrics": metrics, "champion_metrics": champion_metrics, **clock.total()},
    )
    audit(
        engine,
        "training.registered",
        model_name=name,
        details={"version": record.version, "run_id": record.run_id, "trigger": trigger.kind},
    )
    tracker.process([_signal(cfg, False, message)], now=now)
    return RetrainOutcome(
        "registered",
        name,
        trigger.kind,
        message,
        run_id=run_id,
        version=record.version,
        parent_version=parent,
        lineage_hash=data.lineage.frame_sha256,
        metrics=metrics,
        champion_metrics=champion_metrics,
        label_counts=data.training.metadata.label_counts,
        timings=clock.total(),
    )


def _artifact_folder(cfg: DecayguardConfig, version: str) -> Path:
    """Where a registered version's exported artifact lives in the project's state folder."""
    return cfg.path(cfg.project.state_dir).resolve() / "artifacts" / cfg.model.name / version


def _exporter(cfg: DecayguardConfig, fit: FitResult) -> Callable[[str], Path]:
    """Installs the staged export as ``<state>/artifacts/<model>/<version>``."""

    def export(version: str) -> Path:
        target = _artifact_folder(cfg, version)
        if target.exists():
            existing = ArtifactManifest.read(target)
            if existing.sha256 != fit.manifest.sha256:
                raise ArtifactError(
                    f"{target} already holds another model (SHA-256 {existing.sha256[:12]}…); "
                    "the registry and the state folder disagree on version numbers"
                )
            shutil.rmtree(target)
        shutil.copytree(fit.folder, target)
        fit.manifest.model_copy(update={"model_version": version}).write(target)
        return target

    return export


def _register_champion_first(
    cfg: DecayguardConfig,
    registry: ModelRegistry,
    parent: str | None,
    champion_folder: str | None,
) -> None:
    """A registry that has never seen the serving champion gets it first, as ``champion``:
    lineage can name its parent and version numbers follow on from it."""
    if parent is None or champion_folder is None or registry.versions(cfg.model.name):
        return
    folder = Path(champion_folder)
    manifest = ArtifactManifest.read(folder)

    def export(version: str) -> Path:
        if version != parent:
            raise ArtifactError(
                f"the registry allocated version {version} to the serving champion, which "
                f"serves as version {parent}"
            )
        return folder

    registry.register(
        cfg.model.name,
        export,
        RunRecord(
            run_name=f"champion-{parent}",
            params={"trigger": "imported", "deployed_version": parent},
            tags={TAG_SHA256: manifest.sha256, TAG_TRIGGER: "imported"},
        ),
        alias=CHAMPION_ALIAS,
    )


def _run_record(
    cfg: DecayguardConfig,
    trigger: RetrainTrigger,
    run_id: str,
    parent: str | None,
    data: RetrainingData,
    fit: FitResult,
    metrics: dict[str, float],
    champion_metrics: dict[str, float],
) -> RunRecord:
    meta = data.training.metadata
    lineage = data.lineage
    params: dict[str, str | int | float | bool | None] = {
        "trigger": trigger.kind,
        "trigger_reason": trigger.reason,
        "parent_version": parent,
        "train_function": cfg.model.train_function,
        "model_type": fit.model_type,
        "training_window": json.dumps(lineage.window, sort_keys=True),
        "window_start": lineage.window_start,
        "window_end": lineage.window_end,
        "holdout_start": meta.holdout_start,
        "holdout_days": cfg.training.holdout_days,
        "labels_as_of": meta.labels_as_of,
        "feature_service": lineage.feature_service,
        "feature_service_version": lineage.feature_service_version,
        "feature_refs": ",".join(lineage.features),
        "train_rows": len(data.training),
        "holdout_rows": meta.holdout_rows,
        "decayguard_training_run": run_id,
        **{f"label_count.{k}": v for k, v in meta.label_counts.items()},
    }
    run_metrics = {
        **{f"holdout_{k}": v for k, v in metrics.items()},
        **{f"champion_holdout_{k}": v for k, v in champion_metrics.items()},
        "fit_seconds": fit.fit_seconds,
    }
    tags = {
        TAG_SHA256: fit.manifest.sha256,
        TAG_LINEAGE_HASH: lineage.frame_sha256,
        TAG_TRIGGER: trigger.kind,
        TAG_PARENT: parent or "",
        "decayguard.training_run": run_id,
    }
    if trigger.reason:
        tags["decayguard.reason"] = trigger.reason[:5000]
    holdout_sha = str(lineage.extra.get("holdout_sha256", ""))
    datasets = (
        DatasetInput(
            name=f"{cfg.model.name}-training",
            digest=lineage.frame_sha256,
            context="training",
            frame=data.training.frame,
            source=lineage.saved_dataset_path or "",
        ),
        DatasetInput(
            name=f"{cfg.model.name}-holdout",
            digest=holdout_sha,
            context="holdout",
            frame=data.holdout,
            source=lineage.saved_dataset_path or "",
        ),
    )
    return RunRecord(
        run_name=f"retrain-{trigger.kind}-{run_id[:8]}",
        params=params,
        metrics=run_metrics,
        tags=tags,
        lineage={**lineage.to_dict(), "training_run": run_id},
        datasets=datasets,
    )


def registry_versions(
    cfg: DecayguardConfig, registry: ModelRegistry | None = None
) -> list[ModelVersionRecord]:
    """Every registered version of the project's model, oldest first."""
    return registry_for(cfg, registry).versions(cfg.model.name)
