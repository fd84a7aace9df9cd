"""What differs between binary, multiclass and regression models: one strategy object per task.

The monitor run, the release and the feedback estimates never ask ``if task == ...``; they ask
the project's :class:`ModelTask` (picked from ``model.task`` by :func:`task_for`) for its
metrics, its label-free estimator, its realized metrics and its prediction-drift test.

* :data:`TASK_METRICS` / :data:`THRESHOLD_METRICS`: metric names per task (the second: those a
  ``monitoring.performance_thresholds`` key may name, i.e. those with a direction);
* :class:`ModelOutputs`: what a model said about ``n`` rows;
* :class:`ModelTask` (:class:`BinaryTask`, :class:`MulticlassTask`, :class:`RegressionTask`,
  registered in :data:`TASKS`); :func:`task_for` builds one from the task name and classes.

>>> import numpy as np, pandas as pd
>>> task = task_for("multiclass", classes=["A", "B", "C"])
>>> outputs = task.outputs_from_scores(np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
>>> outputs.predictions.tolist(), outputs.n
(['A', 'C'], 2)
>>> task.check_label("B"), task.realized(["A", "B"], outputs)["accuracy"].value
('B', 0.5)
>>> task_for("regression").check_label("12.5")
'12.5'
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from decayguard.errors import InputValidationError
from decayguard.monitoring.direct_loss import DirectLossEstimator
from decayguard.monitoring.errors import MonitoringError
from decayguard.monitoring.estimation import ConfidenceBasedEstimator
from decayguard.monitoring.multiclass import MulticlassConfidenceBasedEstimator
from decayguard.monitoring.realized import (
    realized_classification_metrics,
    realized_multiclass_metrics,
    realized_regression_metrics,
)
from decayguard.monitoring.results import MetricsReport
from decayguard.monitoring.task_base import (
    LABEL_FIELD,
    ModelOutputs,
    ModelTask,
    label_text,
    metrics_report,
)
from decayguard.task_metrics import TASK_METRICS, THRESHOLD_METRICS

__all__ = [
    "TASKS",
    "TASK_METRICS",
    "THRESHOLD_METRICS",
    "BinaryTask",
    "ModelOutputs",
    "ModelTask",
    "MulticlassTask",
    "RegressionTask",
    "task_for",
]


class _ClassifierTask(ModelTask):
    """What binary and multiclass share: labels are class names, outputs class probabilities."""

    primary_metric = "accuracy"
    categorical_outputs = ("predicted_class",)

    def _classes(self, outputs: pd.DataFrame | None = None) -> tuple[str, ...]:
        if self.classes:
            return self.classes
        if outputs is not None:
            found = tuple(sorted(c[6:] for c in outputs.columns if str(c).startswith("proba_")))
            if found:
                return found
        raise MonitoringError(f"a {self.name} task needs its classes")

    def check_label(self, value: object) -> str:
        text = label_text(value)
        if not text:
            raise InputValidationError(LABEL_FIELD, f"{value!r} is not a class label (empty)")
        if self.classes and text not in self.classes:
            raise InputValidationError(
                LABEL_FIELD, f"{value!r} is not one of the classes {list(self.classes)}"
            )
        return text

    def labels_array(self, values: ArrayLike | Sequence[object]) -> NDArray[Any]:
        return np.asarray([label_text(v) for v in _items(values)], dtype=object)

    def outputs_from_scores(self, scores: ArrayLike) -> ModelOutputs:
        classes = self._classes()
        p = np.asarray(scores, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != len(classes):
            raise MonitoringError(
                f"scores must have one column per class {list(classes)}, got shape {p.shape}"
            )
        predictions = np.asarray(classes, dtype=object)[p.argmax(axis=1)]
        return ModelOutputs(predictions, p, classes)

    def outputs_from_log(self, meta: pd.DataFrame, outputs: pd.DataFrame) -> ModelOutputs:
        """Rows logged without class probabilities get them back from the logged ``score``."""
        classes = self._classes(outputs)
        n = len(meta)
        predictions = np.asarray([label_text(v) for v in meta["prediction"].tolist()], dtype=object)
        p = np.full((n, len(classes)), np.nan)
        for j, name in enumerate(classes):
            column = f"proba_{name}"
            if column in outputs.columns:
                p[:, j] = outputs[column].to_numpy(dtype=np.float64, na_value=np.nan)
        missing = ~np.isfinite(p).all(axis=1)
        if missing.any():
            score = meta["score"].to_numpy(dtype=np.float64, na_value=np.nan)[missing]
            p[missing] = self._from_score(score, predictions[missing], classes)
        return ModelOutputs(predictions, p, classes)

    @abstractmethod
    def _from_score(
        self, score: NDArray[np.float64], predictions: NDArray[Any], classes: tuple[str, ...]
    ) -> NDArray[np.float64]:
        """Probabilities for rows that logged only their score."""

    def reference_metric(
        self, y_true: ArrayLike | Sequence[object], outputs: ModelOutputs
    ) -> float:
        truth = self.labels_array(y_true)
        return float(np.mean(truth == outputs.predictions))


def _items(values: ArrayLike | Sequence[object]) -> list[object]:
    items: list[object] = np.asarray(values, dtype=object).ravel().tolist()
    return items


def _one_hot(predictions: NDArray[Any], classes: tuple[str, ...]) -> NDArray[np.float64]:
    return np.asarray(
        predictions[:, None] == np.asarray(classes, dtype=object)[None, :], dtype=np.float64
    )


class BinaryTask(_ClassifierTask):
    """Two classes; ``positive_class`` (default: the last class, else ``"1"``) is the one
    precision, recall and ROC AUC are about. Estimator: binary CBPE."""

    name = "binary"
    estimator_class = ConfidenceBasedEstimator

    @property
    def positive(self) -> str:
        if self.positive_class is not None:
            return str(self.positive_class)
        return self.classes[-1] if self.classes else "1"

    def _classes(self, outputs: pd.DataFrame | None = None) -> tuple[str, ...]:
        if self.classes or (
            outputs is not None and any(str(c).startswith("proba_") for c in outputs.columns)
        ):
            return super()._classes(outputs)
        negative = "0" if self.positive != "0" else "1"
        return tuple(sorted((negative, self.positive)))

    def _positive_index(self, classes: tuple[str, ...]) -> int:
        try:
            return classes.index(self.positive)
        except ValueError as exc:
            raise MonitoringError(
                f"positive class {self.positive!r} is not one of {list(classes)}"
            ) from exc

    def positive_score(self, outputs: ModelOutputs) -> NDArray[np.float64]:
        """The probability of the positive class, per row."""
        if outputs.probabilities is None:
            raise MonitoringError("binary outputs need class probabilities")
        return outputs.probabilities[:, self._positive_index(outputs.classes)]

    def outputs_from_scores(self, scores: ArrayLike) -> ModelOutputs:
        """``(n, 2)`` class probabilities, or ``(n,)`` positive-class probabilities."""
        p = np.asarray(scores, dtype=np.float64)
        if p.ndim == 1:
            classes = self._classes()
            p = self._from_score(p, np.empty(0, dtype=object), classes)
        return super().outputs_from_scores(p)

    def _from_score(
        self, score: NDArray[np.float64], predictions: NDArray[Any], classes: tuple[str, ...]
    ) -> NDArray[np.float64]:
        pos = self._positive_index(classes)
        p = np.empty((score.size, len(classes)))
        p[:, pos], p[:, 1 - pos] = score, 1.0 - score
        unknown = ~np.isfinite(score)
        if unknown.any() and predictions.size:
            p[unknown] = _one_hot(predictions[unknown], classes)
        return p

    def prediction_frame(self, outputs: ModelOutputs) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "predicted_class": pd.Series(outputs.predictions, dtype=object).astype(str),
                "score": self.positive_score(outputs),
            }
        )

    def fit_estimator(
        self,
        features: pd.DataFrame,
        y_true: ArrayLike | Sequence[object],
        outputs: ModelOutputs,
        *,
        confidence: float = 0.95,
    ) -> ConfidenceBasedEstimator:
        truth = self.labels_array(y_true) == self.positive
        estimator = ConfidenceBasedEstimator(
            threshold=self.decision_threshold, confidence=confidence
        )
        return estimator.fit(truth, self.positive_score(outputs))

    def _estimate(self, estimator: Any, features: pd.DataFrame, outputs: ModelOutputs) -> Any:
        return estimator.estimate(
            self.positive_score(outputs), y_pred=outputs.predictions == self.positive
        )

    def realized(
        self,
        y_true: ArrayLike | Sequence[object],
        outputs: ModelOutputs,
        *,
        weights: ArrayLike | None = None,
        confidence: float = 0.95,
    ) -> MetricsReport:
        result = realized_classification_metrics(
            self.labels_array(y_true),
            outputs.predictions,
            None if outputs.probabilities is None else self.positive_score(outputs),
            weights=weights,
            confidence=confidence,
            positive_label=self.positive,
        )
        return metrics_report(result, "realized")


class MulticlassTask(_ClassifierTask):
    """``k`` classes; precision, recall, F1 and ROC AUC are macro (one-vs-rest) averages.
    Estimator: multiclass CBPE."""

    name = "multiclass"
    estimator_class = MulticlassConfidenceBasedEstimator

    def _from_score(
        self, score: NDArray[np.float64], predictions: NDArray[Any], classes: tuple[str, ...]
    ) -> NDArray[np.float64]:
        """The logged top probability on the predicted class, the rest shared evenly."""
        hot = _one_hot(predictions, classes)
        top = np.where(np.isfinite(score), score, 1.0)[:, None]
        rest = (1.0 - top) / max(len(classes) - 1, 1)
        p = np.where(hot > 0, top, rest)
        unknown = hot.sum(axis=1) == 0  # a prediction outside the classes: uniform
        p[unknown] = 1.0 / len(classes)
        return np.asarray(p, dtype=np.float64)

    def prediction_frame(self, outputs: ModelOutputs) -> pd.DataFrame:
        if outputs.probabilities is None:
            raise MonitoringError("multiclass outputs need class probabilities")
        frame = pd.DataFrame(
            {
                "predicted_class": pd.Series(outputs.predictions, dtype=object).astype(str),
                "score": outputs.probabilities.max(axis=1),
            }
        )
        for j, name in enumerate(outputs.classes):
            frame[f"proba_{name}"] = outputs.probabilities[:, j]
        return frame

    def fit_estimator(
        self,
        features: pd.DataFrame,
        y_true: ArrayLike | Sequence[object],
        outputs: ModelOutputs,
        *,
        confidence: float = 0.95,
    ) -> MulticlassConfidenceBasedEstimator:
        if outputs.probabilities is None:
            raise MonitoringError("multiclass outputs need class probabilities")
        estimator = MulticlassConfidenceBasedEstimator(confidence=confidence)
        return estimator.fit(
            self.labels_array(y_true), outputs.probabilities, classes=list(outputs.classes)
        )

    def _estimate(self, estimator: Any, features: pd.DataFrame, outputs: ModelOutputs) -> Any:
        if outputs.probabilities is None:
            raise MonitoringError("multiclass outputs need class probabilities")
        return estimator.estimate(outputs.probabilities, y_pred=outputs.predictions)

    def realized(
        self,
        y_true: ArrayLike | Sequence[object],
        outputs: ModelOutputs,
        *,
        weights: ArrayLike | None = None,
        confidence: float = 0.95,
    ) -> MetricsReport:
        result = realized_multiclass_metrics(
            self.labels_array(y_true),
            outputs.predictions,
            outputs.probabilities,
            outputs.classes or self._classes(),
            weights=weights,
            confidence=confidence,
        )
        return metrics_report(result, "realized")


class RegressionTask(ModelTask):
    """Numeric targets: MAE, RMSE, MAPE, mean error and error quantiles. Estimator: direct
    loss estimation of MAE and RMSE; prediction drift treats the predicted value as a numeric
    feature (KS, Wasserstein, ...)."""

    name = "regression"
    primary_metric = "mae"
    estimator_class = DirectLossEstimator

    def outputs_from_scores(self, scores: ArrayLike) -> ModelOutputs:
        values = np.asarray(scores, dtype=np.float64)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise MonitoringError(
                f"regression scores must be one value per row, not {values.shape}"
            )
        return ModelOutputs(values)

    def outputs_from_log(self, meta: pd.DataFrame, outputs: pd.DataFrame) -> ModelOutputs:
        values = np.full(len(meta), np.nan)
        if "value" in outputs.columns:
            values = outputs["value"].to_numpy(dtype=np.float64, na_value=np.nan)
        missing = ~np.isfinite(values)
        if missing.any():
            score = meta["score"].to_numpy(dtype=np.float64, na_value=np.nan)
            values = np.where(missing, score, values)
        missing = ~np.isfinite(values)
        if missing.any():
            parsed = pd.to_numeric(meta["prediction"], errors="coerce").to_numpy(dtype=np.float64)
            values = np.where(missing, parsed, values)
        return ModelOutputs(np.asarray(values, dtype=np.float64))

    def check_label(self, value: object) -> str:
        return repr(self._number(value))

    @staticmethod
    def _number(value: object) -> float:
        if isinstance(value, bool | np.bool_) or (isinstance(value, str) and "_" in value):
            # bools are not amounts; "1_000" is Python syntax, not data (float() takes it)
            raise InputValidationError(LABEL_FIELD, f"{value!r} is not a number")
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise InputValidationError(LABEL_FIELD, f"{value!r} is not a number") from exc
        if not math.isfinite(number):
            raise InputValidationError(LABEL_FIELD, f"{value!r} is not a finite number")
        return number

    def labels_array(self, values: ArrayLike | Sequence[object]) -> NDArray[np.float64]:
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            return np.asarray([self._number(v) for v in _items(values)], dtype=np.float64)

    def fit_estimator(
        self,
        features: pd.DataFrame,
        y_true: ArrayLike | Sequence[object],
        outputs: ModelOutputs,
        *,
        confidence: float = 0.95,
    ) -> Any:
        estimator: Any = self.estimator_class(metrics=("mae", "rmse"), confidence=confidence)
        return estimator.fit(features, self.labels_array(y_true), outputs.predictions)

    def _estimate(self, estimator: Any, features: pd.DataFrame, outputs: ModelOutputs) -> Any:
        return estimator.estimate(features, outputs.predictions)

    def realized(
        self,
        y_true: ArrayLike | Sequence[object],
        outputs: ModelOutputs,
        *,
        weights: ArrayLike | None = None,
        confidence: float = 0.95,
    ) -> MetricsReport:
        result = realized_regression_metrics(
            self.labels_array(y_true), outputs.predictions, weights=weights, confidence=confidence
        )
        return metrics_report(result, "realized")

    def prediction_frame(self, outputs: ModelOutputs) -> pd.DataFrame:
        return pd.DataFrame({"prediction": np.asarray(outputs.predictions, dtype=np.float64)})

    def reference_metric(
        self, y_true: ArrayLike | Sequence[object], outputs: ModelOutputs
    ) -> float:
        error = np.asarray(outputs.predictions, dtype=np.float64) - self.labels_array(y_true)
        return float(np.mean(np.abs(error)))


TASKS: dict[str, type[ModelTask]] = {
    t.name: t for t in (BinaryTask, MulticlassTask, RegressionTask)
}
"""The task strategies by ``model.task`` name."""


def task_for(
    name: str,
    *,
    classes: Sequence[str] = (),
    positive_class: str | None = None,
    decision_threshold: float = 0.5,
) -> ModelTask:
    """The :class:`ModelTask` for ``model.task`` ``name``."""
    try:
        cls = TASKS[name]
    except KeyError as exc:
        raise MonitoringError(f"unknown model task {name!r}; known: {sorted(TASKS)}") from exc
    return cls(classes, positive_class, decision_threshold)
