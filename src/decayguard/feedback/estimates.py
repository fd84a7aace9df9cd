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
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sqlalchemy.engine import Engine

from decayguard.monitoring import MetricEstimate, realized_classification_metrics
from decayguard.store.reviews import reviewed_sample

__all__ = ["ReviewedPerformance", "estimate_reviewed_metrics", "reviewed_performance"]


def estimate_reviewed_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    inclusion_probabilities: ArrayLike,
    y_score: ArrayLike | None = None,
    *,
    positive_label: str = "1",
    confidence: float = 0.95,
) -> dict[str, MetricEstimate]:
    """Classification metrics of a reviewed sample, each weighted by ``1 / p`` (Hajek).

    >>> m = estimate_reviewed_metrics(["1", "0", "1", "0"], ["1", "0", "0", "0"],
    ...                               [0.5, 0.5, 0.5, 0.05])
    >>> round(m["accuracy"].value, 3)  # the rarely sampled correct answer weighs 10x
    0.923
    >>> m["accuracy"].method, m["accuracy"].weighted
    ('hajek', True)
    """
    p = np.asarray(inclusion_probabilities, dtype=np.float64)
    if np.any(~np.isfinite(p) | (p <= 0) | (p > 1)):
        raise ValueError("inclusion probabilities must be within (0, 1]")
    return realized_classification_metrics(
        np.asarray(y_true, dtype=object).astype(str),
        np.asarray(y_pred, dtype=object).astype(str),
        y_score,
        weights=1.0 / p,
        confidence=confidence,
        positive_label=positive_label,
    )


@dataclass(frozen=True)
class ReviewedPerformance:
    """Performance from human reviews: weighted estimates, and the counts behind them."""

    metrics: dict[str, MetricEstimate]
    """Hajek-weighted estimates with confidence intervals (empty without reviews)."""
    naive_accuracy: float | None
    """Unweighted accuracy of the reviewed sample: biased when the strategy oversamples."""
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


def reviewed_performance(
    engine: Engine,
    model_name: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    arm: str | None = None,
    positive_label: str = "1",
    confidence: float = 0.95,
) -> ReviewedPerformance:
    """Performance of ``model_name`` over predictions made in ``[start, end)``, from the
    latest review of each sampled prediction; ``arm`` selects one serving arm (default:
    every arm that answered clients)."""
    sample = reviewed_sample(engine, model_name, start, end)
    if arm is not None:
        sample = sample[sample["arm"] == arm]
    labeled = sample[sample["status"] == "labeled"]
    usable = labeled[
        labeled["inclusion_prob"].notna()
        & (labeled["inclusion_prob"] > 0)
        & labeled["review_sampled"].astype(bool)
        & labeled["prediction"].notna()
    ]
    metrics: dict[str, MetricEstimate] = {}
    naive: float | None = None
    if len(usable):
        truth = usable["value"].astype(str).to_numpy()
        pred = usable["prediction"].astype(str).to_numpy()
        scores = usable["score"]
        metrics = estimate_reviewed_metrics(
            truth,
            pred,
            usable["inclusion_prob"].to_numpy(dtype=np.float64),
            scores.to_numpy(dtype=np.float64) if scores.notna().all() else None,
            positive_label=positive_label,
            confidence=confidence,
        )
        naive = float(np.mean(truth == pred))
    return ReviewedPerformance(
        metrics=metrics,
        naive_accuracy=naive,
        labeled=len(labeled),
        skipped=int((sample["status"] == "skipped").sum()),
        without_probability=len(labeled) - len(usable),
    )
