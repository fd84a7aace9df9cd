"""Putting a model version into service by hand: the one deploy path's entry points.

``release_champion`` is the call between "I have a fitted model" and "it is served and
watched"::

    release = release_champion(config, model, holdout, version="1", drift_reference=train)

It exports the model as a hash-pinned artifact, fits the monitoring baseline with that
*exported* artifact, and hands the folder to :func:`deploy_exported` — which is also what
``decayguard serve deploy DIR`` calls: record the version as a release, move it to
``champion`` (or a challenger to ``shadow``/``canary``) in one audited store transaction,
and apply the side effects (:func:`decayguard.release.reconcile.reconcile`): MLServer model
settings and hot swap, the store's deployment record, the MLflow aliases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from decayguard.alerts.notify import Notifier
from decayguard.config import CONFIG_FILENAME, DecayguardConfig, FeatureSpec
from decayguard.errors import ArtifactError, ConfigError, InputValidationError
from decayguard.registry.interface import ModelRegistry
from decayguard.release.reconcile import EventSink
from decayguard.release.run import AdvanceOutcome
from decayguard.watch.baseline import MonitoringBaseline, baseline_path


@dataclass(frozen=True)
class Release:
    """What :func:`release_champion` put in place."""

    model_name: str
    version: str
    artifact_folder: Path
    sha256: str
    baseline_path: Path
    reference_metrics: dict[str, float]
    """The model's realized metrics on the holdout (accuracy, ... or MAE, RMSE, ...)."""
    loaded_into_server: bool

    @property
    def reference_accuracy(self) -> float | None:
        """Accuracy on the holdout (classifiers only)."""
        return self.reference_metrics.get("accuracy")


def _feature_columns(
    cfg: DecayguardConfig, frame: pd.DataFrame, specs: list[FeatureSpec] | None = None
) -> tuple[list[str], list[str]]:
    specs = cfg.model.features if specs is None else specs
    if not specs:
        raise ConfigError(
            f"{cfg.root / CONFIG_FILENAME}: model.features: the input schema is empty"
        )
    missing = [s.name for s in specs if s.name not in frame.columns]
    if missing:
        raise InputValidationError(missing[0], "column missing from the reference frame")
    numeric = [s.name for s in specs if s.dtype in ("float", "int")]
    categorical = [s.name for s in specs if s.dtype in ("category", "bool")]
    return numeric, categorical


def fit_baseline(
    cfg: DecayguardConfig,
    folder: Path,
    holdout: pd.DataFrame,
    drift_reference: pd.DataFrame | None = None,
) -> MonitoringBaseline:
    """Fit and save the monitoring baseline of the exported model in ``folder``.

    ``holdout`` holds the model's features and its label column (``model.target``) on data
    it was not trained on: it calibrates the label-free estimator and profiles the outputs.
    ``drift_reference`` (default: ``holdout``) is what input and output drift are measured
    against, typically the whole training period. The exported artifact scores both.
    """
    from decayguard.monitoring.tasks import task_for
    from decayguard.registry import load_model
    from decayguard.registry.manifest import ArtifactManifest

    manifest = ArtifactManifest.read(folder)
    target = cfg.model.target
    # the exported model's own input schema (a project may leave model.features to it)
    numeric, categorical = _feature_columns(cfg, holdout, manifest.features)
    if target not in holdout.columns:
        raise InputValidationError(target, "the holdout needs the label column (model.target)")
    features = numeric + categorical
    order = manifest.feature_names
    exported = load_model(folder, sha256=manifest.sha256)
    task = task_for(manifest.task, classes=manifest.classes, positive_class=manifest.positive_class)
    outputs = task.outputs_from_scores(exported.model.predict_scores(holdout[order]))
    reference = drift_reference if drift_reference is not None else holdout
    reference_outputs = task.outputs_from_scores(exported.model.predict_scores(reference[order]))
    baseline = MonitoringBaseline.fit(
        cfg.model.name,
        manifest.model_version,
        task,
        reference[features],
        holdout[features],
        outputs,
        holdout[target].to_numpy(),
        numeric=numeric,
        categorical=categorical,
        confidence=cfg.monitoring.confidence,
        reference_outputs=reference_outputs,
    )
    state = cfg.path(cfg.project.state_dir)
    baseline.save(baseline_path(state, cfg.model.name, manifest.model_version))
    return baseline


def fit_baseline_from_lineage(
    cfg: DecayguardConfig, version: str, folder: Path, registry: ModelRegistry | None = None
) -> MonitoringBaseline:
    """The baseline of a version decayguard trained: its time holdout (from the Feast saved
    dataset of its training set, hash-checked) calibrates, its training rows are the drift
    reference. :class:`ArtifactError` when the version has no lineage."""
    from decayguard.features.repo import FeatureRepo
    from decayguard.features.windows import TIME_COLUMN
    from decayguard.registry.manifest import ArtifactManifest
    from decayguard.training.inspect import lineage_of

    lineage = lineage_of(cfg, version, registry)
    start = lineage.extra.get("holdout_start")
    if not start:
        raise ArtifactError(f"{cfg.model.name} version {version}: its lineage has no holdout")
    frame = FeatureRepo.from_config(cfg).load_training_set(lineage).frame
    names = ArtifactManifest.read(folder).feature_names
    frame = frame[~frame[names].isna().all(axis=1)].dropna(subset=[cfg.model.target])
    held = pd.to_datetime(frame[TIME_COLUMN], utc=True) >= pd.Timestamp(str(start))
    training = frame[~held]
    return fit_baseline(
        cfg,
        folder,
        frame[held].reset_index(drop=True),
        training.reset_index(drop=True) if len(training) else None,
    )


def release_champion(
    cfg: DecayguardConfig,
    estimator: Any,
    holdout: pd.DataFrame,
    *,
    version: str,
    drift_reference: pd.DataFrame | None = None,
    server_url: str | None = None,
    actor: str = "decayguard",
    reason: str | None = None,
    now: datetime | None = None,
) -> Release:
    """Export ``estimator`` as ``version``, fit its baseline, and deploy it as the champion
    through :func:`deploy_exported` (see :func:`fit_baseline` for ``holdout`` and
    ``drift_reference``; ``now``: the release's clock, simulated in the demo)."""
    from decayguard.registry import export_model

    name = cfg.model.name
    _feature_columns(cfg, holdout)
    order = [s.name for s in cfg.model.features]
    folder = cfg.path(cfg.project.state_dir).resolve() / "artifacts" / name / version
    manifest = export_model(
        estimator,
        folder,
        model_name=name,
        model_version=version,
        features=cfg.model.features,
        reference=holdout[order],
        positive_class=cfg.model.positive_class if cfg.model.task == "binary" else None,
        overwrite=True,
    )
    if manifest.task != cfg.model.task:
        raise ConfigError(
            f"{cfg.root / CONFIG_FILENAME}: model.task: the project says {cfg.model.task!r}, "
            f"but the estimator is a {manifest.task} model"
        )
    baseline = fit_baseline(cfg, folder, holdout, drift_reference)
    outcome = deploy_exported(
        cfg,
        folder,
        server_url=server_url,
        actor=actor,
        reason=reason or f"released as champion by {actor}",
        now=now,
    )
    return Release(
        model_name=name,
        version=version,
        artifact_folder=folder,
        sha256=manifest.sha256,
        baseline_path=baseline_path(cfg.path(cfg.project.state_dir), name, version),
        reference_metrics=baseline.reference_metrics,
        loaded_into_server=bool(outcome.server_loaded),
    )


def deploy_exported(
    cfg: DecayguardConfig,
    champion: str | Path | None,
    *,
    challenger: str | Path | None = None,
    stage: Literal["shadow", "canary"] = "shadow",
    canary_share: float | None = None,
    holdout: pd.DataFrame | None = None,
    drift_reference: pd.DataFrame | None = None,
    server_url: str | None = None,
    registry: ModelRegistry | None = None,
    notifier: Notifier | None = None,
    events: EventSink | None = None,
    actor: str = "decayguard",
    reason: str = "deployed by hand",
    now: datetime | None = None,
) -> AdvanceOutcome:
    """Put exported folders into service: ``champion`` as the champion and/or ``challenger``
    on trial in ``stage``. Each becomes a release (its manifest names its version) and moves
    there in one audited transaction (a person's decision: no gate, no judge); the previous
    champion is superseded, a previous challenger too.

    A version without a monitoring baseline gets one: from ``holdout`` (features and the
    label column; ``drift_reference`` as in :func:`fit_baseline`), else from its training-set
    lineage when decayguard trained it; otherwise :class:`InputValidationError` naming
    ``holdout``: the monitor must not judge a new version against another's baseline.
    ``now``: the release's clock (default: the wall clock; simulated in the demo).
    """
    from decayguard.registry.manifest import ArtifactManifest
    from decayguard.release.run import apply_and_reconcile
    from decayguard.release.stages import Action, Stage
    from decayguard.store.migrate import migrated_engine
    from decayguard.store.releases import (
        Move,
        candidate_release,
        register_release,
        release_in,
    )

    if champion is None and challenger is None:
        raise InputValidationError("champion", "give a champion or a challenger folder")
    name = cfg.model.name
    share = cfg.release.canary_share if canary_share is None else canary_share
    if stage == "canary" and not 0.0 < share < 1.0:
        raise InputValidationError("canary_share", f"must be within (0, 1), got {share}")
    moves: list[Move] = []
    with migrated_engine(cfg.resolved_store_url) as engine:
        for role, given in (("champion", champion), ("challenger", challenger)):
            if given is None:
                continue
            folder = Path(given).resolve()
            manifest = ArtifactManifest.read(folder)
            version = manifest.model_version
            _ensure_baseline(cfg, version, folder, holdout, drift_reference, registry)
            release = register_release(
                engine,
                name,
                version,
                artifact_uri=str(folder),
                artifact_sha256=manifest.sha256,
                actor=actor,
                reason=f"deployed from {folder}",
                now=now,
            )
            if role == "champion":
                if release.stage == Stage.CHAMPION:
                    continue
                current = release_in(engine, name, Stage.CHAMPION)
                if current is not None:
                    moves.append(Move(current.version, Action.SUPERSEDE, expected=Stage.CHAMPION))
                moves.append(Move(version, Action.DEPLOY, expected=release.stage))
            else:
                target = Stage.SHADOW if stage == "shadow" else Stage.CANARY
                if release.stage == target:
                    continue
                live = candidate_release(engine, name)
                if live is not None and live.version != version:
                    moves.append(Move(live.version, Action.SUPERSEDE, expected=live.stage))
                action = Action.START_SHADOW if stage == "shadow" else Action.START_CANARY
                moves.append(
                    Move(
                        version,
                        action,
                        expected=release.stage,
                        traffic_share=share if stage == "canary" else None,
                    )
                )
    return apply_and_reconcile(
        cfg,
        moves,
        actor=actor,
        reason=reason,
        registry=registry,
        server_url=server_url,
        notifier=notifier,
        events=events,
        now=now,
    )


def _ensure_baseline(
    cfg: DecayguardConfig,
    version: str,
    folder: Path,
    holdout: pd.DataFrame | None,
    drift_reference: pd.DataFrame | None,
    registry: ModelRegistry | None,
) -> None:
    state = cfg.path(cfg.project.state_dir)
    if holdout is not None:
        fit_baseline(cfg, folder, holdout, drift_reference)
        return
    if baseline_path(state, cfg.model.name, version).exists():
        return
    try:
        fit_baseline_from_lineage(cfg, version, folder, registry)
    except ArtifactError as exc:
        raise InputValidationError(
            "holdout",
            f"{cfg.model.name} version {version} has no monitoring baseline and no training "
            f"lineage to fit one from ({exc}); give a holdout (features and the label "
            f"{cfg.model.target!r}) to fit it on",
        ) from exc
