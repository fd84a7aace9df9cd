"""The base of the task strategies: :class:`ModelOutputs` and the :class:`ModelTask` contract.

The concrete tasks and their registry live in :mod:`decayguard.monitoring.tasks`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from decayguard.monitoring.decision import HIGHER_IS_BETTER, DriftDecisionRule
from decayguard.monitoring.detection import detect_drift
from decayguard.monitoring.errors import MonitoringError
from decayguard.monitoring.profile import ReferenceProfile
from decayguard.monitoring.results import (
    PREDICTION_DRIFT,
    DriftReport,
    MetricEstimate,
    MetricsReport,
)
from decayguard.task_metrics import TASK_METRICS, THRESHOLD_METRICS

__all__ = [
    "LABEL_FIELD",
    "ModelOutputs",
    "ModelTask",
    "label_text",
    "metrics_report",
]

LABEL_FIELD = "label"


@dataclass(frozen=True, eq=False)
class ModelOutputs:
    """What a model said about ``n`` rows.

    ``predictions``: an object array of class labels (str) for classifiers, float64 values for
    regression; ``probabilities``: ``(n, k)`` float64 with column ``j`` for ``classes[j]``
    (``None`` for regression).
    """

    predictions: NDArray[Any]
    probabilities: NDArray[np.float64] | None = None
    classes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.predictions)

    def take(self, index: ArrayLike | slice) -> ModelOutputs:
        """The outputs of the rows selected by an index array, a boolean mask or a slice."""
        rows = index if isinstance(index, slice) else np.asarray(index)
        probabilities = None if self.probabilities is None else self.probabilities[rows]
        return ModelOutputs(self.predictions[rows], probabilities, self.classes)


def metrics_report(
    result: Mapping[str, MetricEstimate] | MetricEstimate, kind: str
) -> MetricsReport:
    if isinstance(result, MetricEstimate):
        return MetricsReport({result.name: result}, kind)
    return MetricsReport(dict(result.items()), kind)


def label_text(value: object) -> str:
    """Label text: ``1``, ``1.0`` and ``"1"`` all read ``"1"``; surrounding blanks dropped."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return label_text(value.item())
    return "" if value is None else str(value).strip()


class ModelTask(ABC):
    """The strategies of one model task; built by :func:`task_for` from config values."""

    name: ClassVar[str]
    primary_metric: ClassVar[str]
    """The headline metric of :meth:`reference_metric` (the release summary)."""

    def __init__(
        self,
        classes: Sequence[str] = (),
        positive_class: str | None = None,
        decision_threshold: float = 0.5,
    ) -> None:
        self.classes = tuple(str(c) for c in classes)
        self.positive_class = positive_class
        self.decision_threshold = decision_threshold

    def __repr__(self) -> str:
        return f"{type(self).__name__}(classes={list(self.classes)!r})"

    @property
    def metrics(self) -> tuple[str, ...]:
        """The realized metrics this task reports."""
        return TASK_METRICS[self.name]

    @property
    def threshold_metrics(self) -> tuple[str, ...]:
        """The metrics a ``monitoring.performance_thresholds`` key may name."""
        return THRESHOLD_METRICS[self.name]

    def higher_is_better(self, metric: str) -> bool:
        if metric not in self.threshold_metrics:
            raise MonitoringError(
                f"{metric!r} is not a threshold metric of a {self.name} model; "
                f"known: {list(self.threshold_metrics)}"
            )
        return HIGHER_IS_BETTER[metric]

    # -- outputs and labels ----------------------------------------------------------------
    @abstractmethod
    def outputs_from_scores(self, scores: ArrayLike) -> ModelOutputs:
        """Outputs from ``LoadedModel.predict_scores``: ``(n, k)`` probabilities or values."""

    @abstractmethod
    def outputs_from_log(self, meta: pd.DataFrame, outputs: pd.DataFrame) -> ModelOutputs:
        """Outputs of a logged window (``PredictionWindow.meta()`` and ``.outputs()``)."""

    @abstractmethod
    def check_label(self, value: object) -> str:
        """The label as normalised text, or :class:`InputValidationError` naming the value."""

    @abstractmethod
    def labels_array(self, values: ArrayLike | Sequence[object]) -> NDArray[Any]:
        """Labels as an array comparable with ``ModelOutputs.predictions``."""

    # -- strategies --------------------------------------------------------------------------
    @abstractmethod
    def fit_estimator(
        self,
        features: pd.DataFrame,
        y_true: ArrayLike | Sequence[object],
        outputs: ModelOutputs,
        *,
        confidence: float = 0.95,
    ) -> Any:
        """The task's label-free performance estimator, fitted on labelled reference rows."""

    @abstractmethod
    def _estimate(self, estimator: Any, features: pd.DataFrame, outputs: ModelOutputs) -> Any: ...

    def estimate(
        self, estimator: Any, features: pd.DataFrame, outputs: ModelOutputs
    ) -> MetricsReport:
        """Label-free performance of a window (``kind="estimated"``)."""
        if outputs.n == 0:
            raise MonitoringError("cannot estimate performance on an empty window")
        return metrics_report(self._estimate(estimator, features, outputs), "estimated")

    estimator_class: ClassVar[Any]

    def estimator_to_dict(self, estimator: Any) -> dict[str, Any]:
        """A JSON-able dict of a fitted estimator (no pickle)."""
        return {"task": self.name, "estimator": estimator.to_dict()}

    def estimator_from_dict(self, data: Mapping[str, Any]) -> Any:
        """The estimator saved by :meth:`estimator_to_dict`."""
        if data.get("task") != self.name:
            raise MonitoringError(
                f"this estimator was saved for a {data.get('task')!r} model, not a {self.name}"
            )
        return self.estimator_class.from_dict(data["estimator"])

    @abstractmethod
    def realized(
        self,
        y_true: ArrayLike | Sequence[object],
        outputs: ModelOutputs,
        *,
        weights: ArrayLike | None = None,
        confidence: float = 0.95,
    ) -> MetricsReport:
        """Realized performance from labels (``kind="realized"``); ``weights`` are Hájek design
        weights ``1 / inclusion probability`` for a reviewed sample."""

    @abstractmethod
    def prediction_frame(self, outputs: ModelOutputs) -> pd.DataFrame:
        """The outputs as the columns the prediction profile describes."""

    categorical_outputs: ClassVar[tuple[str, ...]] = ()
    """Columns of :meth:`prediction_frame` profiled as categories (the others: numeric)."""

    def fit_prediction_profile(self, outputs: ModelOutputs) -> ReferenceProfile:
        """A reference profile of the model's outputs on the reference rows."""
        frame = self.prediction_frame(outputs)
        categorical = [c for c in frame.columns if c in self.categorical_outputs]
        numeric = [c for c in frame.columns if c not in self.categorical_outputs]
        return ReferenceProfile(numeric=numeric, categorical=categorical).fit(frame)

    def detect_prediction_drift(
        self,
        profile: ReferenceProfile,
        outputs: ModelOutputs,
        *,
        rule: DriftDecisionRule | None = None,
    ) -> DriftReport:
        """Drift of the output distribution; points named ``prediction_drift.<method>``."""
        frame = self.prediction_frame(outputs)
        known = [c for c in profile.features_ if c in frame.columns]
        report = detect_drift(profile, frame.reindex(columns=known or frame.columns), rule=rule)
        return replace(report, prefix=PREDICTION_DRIFT)

    @abstractmethod
    def reference_metric(
        self, y_true: ArrayLike | Sequence[object], outputs: ModelOutputs
    ) -> float:
        """The value of :attr:`primary_metric` on labelled rows (for the release summary)."""

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "decision_threshold": self.decision_threshold,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelTask:
        """The task saved by :meth:`to_dict` (any registered task, whichever class is asked)."""
        from decayguard.monitoring.tasks import task_for  # the registry imports this module

        return task_for(
            data["name"],
            classes=data.get("classes", ()),
            positive_class=data.get("positive_class"),
            decision_threshold=data.get("decision_threshold", 0.5),
        )
