"""What the monitor compares against: fitted once per deployed model version, saved as JSON.

The same code fits every task: the :class:`~decayguard.monitoring.tasks.ModelTask` of the
model (binary, multiclass or regression) picks the label-free estimator, the output profile
and the realized metrics; nothing here asks which task it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from decayguard.errors import ConfigError
from decayguard.monitoring import PCAReconstructionDrift, ReferenceProfile
from decayguard.monitoring.tasks import ModelOutputs, ModelTask

_LEGACY_TASK = {"name": "binary", "classes": ["0", "1"], "positive_class": "1"}
"""Baselines written before the task was saved were binary, positive class ``1``."""


@dataclass
class MonitoringBaseline:
    """Reference profiles of the inputs and outputs, and the task's label-free estimator.

    Fitted on a labelled reference set the model did not train on (a holdout of the
    training period), with the model's own outputs on it; input drift is measured against
    ``drift_reference`` (typically the whole training period).
    """

    model_name: str
    model_version: str
    task: ModelTask
    features: ReferenceProfile
    predictions: ReferenceProfile
    estimator: Any | None
    multivariate: PCAReconstructionDrift | None
    reference_metrics: dict[str, float] = field(default_factory=dict)
    """The realized metrics of the model on the labelled holdout (point values)."""

    @property
    def reference_accuracy(self) -> float | None:
        """Accuracy on the holdout (classifiers only)."""
        return self.reference_metrics.get("accuracy")

    @classmethod
    def fit(
        cls,
        model_name: str,
        model_version: str,
        task: ModelTask,
        drift_reference: pd.DataFrame,
        holdout: pd.DataFrame,
        outputs: ModelOutputs,
        y_true: ArrayLike | None = None,
        *,
        numeric: list[str] | None = None,
        categorical: list[str] | None = None,
        confidence: float = 0.95,
        reference_outputs: ModelOutputs | None = None,
    ) -> MonitoringBaseline:
        """``holdout`` holds the features of the rows ``outputs`` and ``y_true`` describe.

        ``reference_outputs`` are the model's outputs on ``drift_reference``: the output
        profile is fitted on them when given (the same period as the input profile — a
        holdout cut from the end of the training period may be a weekend, say), else on
        ``outputs``."""
        profile = ReferenceProfile(numeric=numeric, categorical=categorical).fit(drift_reference)
        estimator = None
        metrics: dict[str, float] = {}
        columns = list(profile.features_)
        if y_true is not None:
            truth = task.labels_array(y_true)
            estimator = task.fit_estimator(holdout[columns], truth, outputs, confidence=confidence)
            realized = task.realized(truth, outputs, confidence=confidence)
            metrics = {name: float(m.value) for name, m in realized.items() if np.isfinite(m.value)}
        numeric_cols = [
            c for c, f in profile.features_.items() if f.kind == "numeric" and c in drift_reference
        ]
        multivariate = None
        if len(numeric_cols) >= 2:
            multivariate = PCAReconstructionDrift(columns=numeric_cols).fit(drift_reference)
        return cls(
            model_name=model_name,
            model_version=model_version,
            task=task,
            features=profile,
            predictions=task.fit_prediction_profile(
                reference_outputs if reference_outputs is not None else outputs
            ),
            estimator=estimator,
            multivariate=multivariate,
            reference_metrics=metrics,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "task": self.task.to_dict(),
            "features": self.features.to_dict(),
            "predictions": self.predictions.to_dict(),
            "estimator": (
                self.task.estimator_to_dict(self.estimator) if self.estimator is not None else None
            ),
            "multivariate": self.multivariate.to_dict() if self.multivariate else None,
            "reference_metrics": self.reference_metrics,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitoringBaseline:
        task = ModelTask.from_dict(data.get("task") or _LEGACY_TASK)
        metrics = data.get("reference_metrics")
        if metrics is None and data.get("reference_accuracy") is not None:
            metrics = {"accuracy": data["reference_accuracy"]}
        return cls(
            model_name=data["model_name"],
            model_version=data["model_version"],
            task=task,
            features=ReferenceProfile.from_dict(data["features"]),
            predictions=ReferenceProfile.from_dict(data["predictions"]),
            estimator=(
                task.estimator_from_dict(data["estimator"]) if data.get("estimator") else None
            ),
            multivariate=(
                PCAReconstructionDrift.from_dict(data["multivariate"])
                if data.get("multivariate")
                else None
            ),
            reference_metrics=dict(metrics or {}),
        )

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict()))
        tmp.replace(path)
        return path


def baseline_path(state_dir: Path, model_name: str, model_version: str) -> Path:
    return state_dir / "baselines" / model_name / f"{model_version}.json"


def load_baseline(state_dir: Path, model_name: str, model_version: str) -> MonitoringBaseline:
    path = baseline_path(state_dir, model_name, model_version)
    try:
        return MonitoringBaseline.from_dict(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no monitoring baseline for {model_name} version {model_version}; "
            "deploy the model through decayguard so that one is fitted"
        ) from exc
