"""Putting a trained model into service: export, monitoring baseline, deploy, record.

``release_champion`` is the one call between "I have a fitted model" and "it is served and
watched"::

    release = release_champion(config, model, holdout, version="1", drift_reference=train)

1. exports the model as a hash-pinned artifact (``registry.export_model``);
2. scores the labelled ``holdout`` and the drift reference with that *exported* artifact and
   fits the monitoring baseline with the model's task (input and output profiles on the drift
   reference, the task's label-free estimator on the holdout, the multivariate test);
3. writes the MLServer model settings, hot-swapping a running server when ``server_url``
   is given (``serving.deploy.deploy_model``);
4. records the deployment and an audit event in the store, so the monitor flow knows which
   version to watch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from decayguard.config import DecayguardConfig
from decayguard.errors import ConfigError, InputValidationError
from decayguard.store import create_store_engine, record_deployment, upgrade
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


def _feature_columns(cfg: DecayguardConfig, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    specs = cfg.model.features
    if not specs:
        raise ConfigError(
            f"{cfg.root / 'decayguard.yaml'}: model.features: the input schema is empty"
        )
    missing = [s.name for s in specs if s.name not in frame.columns]
    if missing:
        raise InputValidationError(missing[0], "column missing from the reference frame")
    numeric = [s.name for s in specs if s.dtype in ("float", "int")]
    categorical = [s.name for s in specs if s.dtype in ("category", "bool")]
    return numeric, categorical


def release_champion(
    cfg: DecayguardConfig,
    estimator: Any,
    holdout: pd.DataFrame,
    *,
    version: str,
    drift_reference: pd.DataFrame | None = None,
    server_url: str | None = None,
    actor: str = "decayguard",
) -> Release:
    """Export, baseline, deploy and record ``estimator`` as the champion ``version``.

    ``holdout`` holds the model's features and its label column (``model.target``) on data
    it was not trained on: it calibrates the label-free estimator and profiles the outputs.
    ``drift_reference`` (default: ``holdout``) is what input and output drift are measured
    against, typically the whole training period (a holdout cut from its end may be one
    unrepresentative weekend). The model scores it for the output profile: a model that
    memorises its training rows (deep trees, say) should get a reference it did not train on.
    """
    from decayguard.monitoring.tasks import task_for
    from decayguard.registry import export_model, load_model
    from decayguard.serving.deploy import deploy_model

    name, target = cfg.model.name, cfg.model.target
    numeric, categorical = _feature_columns(cfg, holdout)
    if target not in holdout.columns:
        raise InputValidationError(target, "the holdout needs the label column (model.target)")
    features = numeric + categorical
    order = [s.name for s in cfg.model.features]
    state = cfg.path(cfg.project.state_dir)
    folder = state / "artifacts" / name / version
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
            f"{cfg.root / 'decayguard.yaml'}: model.task: the project says {cfg.model.task!r}, "
            f"but the estimator is a {manifest.task} model"
        )
    exported = load_model(folder, sha256=manifest.sha256)
    task = task_for(manifest.task, classes=manifest.classes, positive_class=manifest.positive_class)
    outputs = task.outputs_from_scores(exported.model.predict_scores(holdout[order]))
    reference = drift_reference if drift_reference is not None else holdout
    reference_outputs = task.outputs_from_scores(exported.model.predict_scores(reference[order]))
    baseline = MonitoringBaseline.fit(
        name,
        version,
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
    saved = baseline.save(baseline_path(state, name, version))
    deploy_model(cfg, folder, server_url=server_url)
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        upgrade(engine)
        record_deployment(
            engine,
            name,
            version,
            artifact_uri=str(folder),
            artifact_sha256=manifest.sha256,
            actor=actor,
        )
    finally:
        engine.dispose()
    return Release(
        model_name=name,
        version=version,
        artifact_folder=folder,
        sha256=manifest.sha256,
        baseline_path=saved,
        reference_metrics=baseline.reference_metrics,
        loaded_into_server=server_url is not None,
    )
