"""What the monitor compares against: fitted once per deployed model version, saved as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from decayguard.errors import ConfigError
from decayguard.monitoring import (
    ConfidenceBasedEstimator,
    PCAReconstructionDrift,
    ReferenceProfile,
    fit_prediction_profile,
)


@dataclass
class MonitoringBaseline:
    """Reference profiles of the inputs and outputs, and the label-free estimator.

    Fitted on a labelled reference set the model did not train on (a holdout of the
    training period), with the model's own scores on it.
    """

    model_name: str
    model_version: str
    features: ReferenceProfile
    predictions: ReferenceProfile
    estimator: ConfidenceBasedEstimator | None
    multivariate: PCAReconstructionDrift | None
    reference_accuracy: float | None = None

    @classmethod
    def fit(
        cls,
        model_name: str,
        model_version: str,
        features: pd.DataFrame,
        y_score: ArrayLike,
        y_pred: ArrayLike,
        y_true: ArrayLike | None = None,
        *,
        numeric: list[str] | None = None,
        categorical: list[str] | None = None,
        positive_label: str = "1",
        decision_threshold: float = 0.5,
    ) -> MonitoringBaseline:
        scores = np.asarray(y_score, dtype=np.float64)
        preds = np.asarray(y_pred).astype(str)
        profile = ReferenceProfile(numeric=numeric, categorical=categorical).fit(features)
        estimator = None
        accuracy = None
        if y_true is not None:
            truth = np.asarray(y_true).astype(str)
            estimator = ConfidenceBasedEstimator(threshold=decision_threshold).fit(
                truth == positive_label, scores
            )
            accuracy = float(np.mean(truth == preds))
        numeric_cols = [
            c for c, f in profile.features_.items() if f.kind == "numeric" and c in features
        ]
        multivariate = None
        if len(numeric_cols) >= 2:
            multivariate = PCAReconstructionDrift(columns=numeric_cols).fit(features)
        return cls(
            model_name=model_name,
            model_version=model_version,
            features=profile,
            predictions=fit_prediction_profile(preds, scores),
            estimator=estimator,
            multivariate=multivariate,
            reference_accuracy=accuracy,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "features": self.features.to_dict(),
            "predictions": self.predictions.to_dict(),
            "estimator": self.estimator.to_dict() if self.estimator else None,
            "multivariate": self.multivariate.to_dict() if self.multivariate else None,
            "reference_accuracy": self.reference_accuracy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitoringBaseline:
        return cls(
            model_name=data["model_name"],
            model_version=data["model_version"],
            features=ReferenceProfile.from_dict(data["features"]),
            predictions=ReferenceProfile.from_dict(data["predictions"]),
            estimator=(
                ConfidenceBasedEstimator.from_dict(data["estimator"])
                if data.get("estimator")
                else None
            ),
            multivariate=(
                PCAReconstructionDrift.from_dict(data["multivariate"])
                if data.get("multivariate")
                else None
            ),
            reference_accuracy=data.get("reference_accuracy"),
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
