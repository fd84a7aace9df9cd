"""Accuracy from the human-reviewed sample, unbiased under the review-sampling weights.

Each reviewed prediction carries the inclusion probability ``p`` it was given when it
was served. Weighting its correctness by ``1 / p`` (the Hajek ratio estimator of
:mod:`decayguard.monitoring.intervals`, with its linearised confidence interval) undoes
the oversampling of, say, uncertain predictions: the plain mean of such a sample is
biased towards the accuracy near the decision boundary, the weighted one is not.

Skipped reviews are counted and reported, not scored: a skip is non-response, and the
estimate assumes skips are unrelated to correctness (report a high skip rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sqlalchemy.engine import Engine

from decayguard.monitoring.results import MetricsReport
from decayguard.monitoring.tasks import ModelOutputs, ModelTask, task_for
from decayguard.store import read_window
from decayguard.store.reviews import reviewed_sample

__all__ = ["ReviewedPerformance", "estimate_reviewed_metrics", "reviewed_performance"]


def _binary() -> ModelTask:
    return task_for("binary", classes=("0", "1"), positive_class="1")


def estimate_reviewed_metrics(
    y_true: ArrayLike,
    outputs: ModelOutputs,
    inclusion_probabilities: ArrayLike,
    *,
    task: ModelTask | None = None,
    confidence: float = 0.95,
) -> MetricsReport:
    """The task's metrics of a reviewed sample, each weighted by ``1 / p`` (Hajek).

    >>> from decayguard.monitoring.tasks import task_for
    >>> task = task_for("binary", classes=("0", "1"), positive_class="1")
    >>> outputs = task.outputs_from_scores(np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4],
    ...                                               [0.7, 0.3]]))
    >>> m = estimate_reviewed_metrics(["1", "0", "1", "0"], outputs, [0.5, 0.5, 0.5, 0.05])
    >>> round(m["accuracy"].value, 3)  # the rarely sampled correct answer weighs 10x
    0.923
    >>> m["accuracy"].method, m["accuracy"].weighted
    ('hajek', True)
    """
    p = np.asarray(inclusion_probabilities, dtype=np.float64)
    if np.any(~np.isfinite(p) | (p <= 0) | (p > 1)):
        raise ValueError("inclusion probabilities must be within (0, 1]")
    task = task or _binary()
    realized = task.realized(
        task.labels_array(y_true), outputs, weights=1.0 / p, confidence=confidence
    )
    return realized.with_kind("reviewed")


@dataclass(frozen=True)
class ReviewedPerformance:
    """Performance from human reviews: weighted estimates, and the counts behind them."""

    metrics: MetricsReport
    """Hajek-weighted estimates with confidence intervals (empty without reviews)."""
    naive_accuracy: float | None
    """Unweighted share of reviewed predictions the reviewer agreed with: biased when the
    strategy oversamples (classifiers; ``None`` for regressors)."""
    labeled: int
    skipped: int
    without_probability: int
    """Reviewed predictions logged without an inclusion probability (left out)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
            "naive_accuracy": self.naive_accuracy,
            "labeled": self.labeled,
            "skipped": self.skipped,
            "without_probability": self.without_probability,
        }


def _logged_outputs(
    engine: Engine, model_name: str, task: ModelTask, usable: pd.DataFrame
) -> ModelOutputs:
    """The model's full outputs (class probabilities...) of the reviewed predictions."""
    ts = pd.to_datetime(usable["ts"], utc=True)
    window = read_window(
        engine,
        model_name,
        ts.min().to_pydatetime(),
        (ts.max() + timedelta(microseconds=1)).to_pydatetime(),
    )
    meta, logged = window.meta(), window.outputs()
    position = pd.Series(np.arange(len(meta)), index=meta["prediction_id"].astype(str))
    rows = position.reindex(usable["prediction_id"].astype(str)).to_numpy()
    if np.isnan(rows.astype(np.float64)).any():  # pragma: no cover - reviews join predictions
        raise ValueError("a reviewed prediction is missing from the prediction log")
    index = rows.astype(np.intp)
    return task.outputs_from_log(
        meta.iloc[index].reset_index(drop=True), logged.iloc[index].reset_index(drop=True)
    )


def reviewed_performance(
    engine: Engine,
    model_name: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    arm: str | None = None,
    version: str | None = None,
    task: ModelTask | None = None,
    confidence: float = 0.95,
) -> ReviewedPerformance:
    """Performance of ``model_name`` over predictions made in ``[start, end)``, from the
    latest review of each sampled prediction; ``arm`` selects one serving arm (default:
    every arm that answered clients); ``task`` says which metrics apply (default: binary,
    positive class ``"1"``).

    ``version`` evaluates one model version on every reviewed request it scored, answered
    or silent: a silent row is scored against the review of the answered row it names in
    ``paired_id``, weighted by that row's inclusion probability (the answered row is the
    one that was drawn for review, so its ``p`` is the request's chance of being in the
    sample whichever version is scored)."""
    task = task or _binary()
    sample = reviewed_sample(engine, model_name, start, end, version=version)
    if arm is not None:
        sample = sample[sample["arm"] == arm]
    labeled = sample[sample["status"] == "labeled"]
    usable = labeled[
        labeled["inclusion_prob"].notna()
        & (labeled["inclusion_prob"] > 0)
        & labeled["review_sampled"].astype(bool)
        & labeled["prediction"].notna()
    ].reset_index(drop=True)
    metrics = MetricsReport({}, "reviewed")
    naive: float | None = None
    if len(usable):
        outputs = _logged_outputs(engine, model_name, task, usable)
        truth = usable["value"].to_numpy()
        metrics = estimate_reviewed_metrics(
            truth,
            outputs,
            usable["inclusion_prob"].to_numpy(dtype=np.float64),
            task=task,
            confidence=confidence,
        )
        if outputs.probabilities is not None:
            naive = float(np.mean(truth.astype(str) == outputs.predictions.astype(str)))
    return ReviewedPerformance(
        metrics=metrics,
        naive_accuracy=naive,
        labeled=len(labeled),
        skipped=int((sample["status"] == "skipped").sum()),
        without_probability=len(labeled) - len(usable),
    )
