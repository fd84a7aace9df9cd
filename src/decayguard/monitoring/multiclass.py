"""Confidence-based performance estimation (CBPE) for multiclass classifiers.

Each class's score is calibrated one-vs-rest on labelled reference data (isotonic or Platt), and
the calibrated rows are renormalised to sum to one. The expected confusion matrix follows:
accuracy is the mean calibrated probability of the predicted class; precision, recall and F1
are macro averages of the per-class expected one-vs-rest cells; ROC AUC is the macro average of
the per-class expected AUC. Intervals: the central ``confidence`` range of the realized metrics
over label sets drawn from the calibrated rows (parametric bootstrap, seeded per window).
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from decayguard.monitoring.errors import MonitoringError, NotFittedError
from decayguard.monitoring.estimation import (
    CALIBRATORS,
    Calibrator,
    expected_classification_metrics,
)
from decayguard.monitoring.results import MetricEstimate, MetricsReport

__all__ = ["MulticlassConfidenceBasedEstimator"]

Floats = NDArray[np.float64]
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


class MulticlassConfidenceBasedEstimator:
    """CBPE for k classes: ``fit(y_true, scores)`` with scores of shape ``(n, k)``.

    >>> rng = np.random.default_rng(0)
    >>> p = rng.dirichlet([1, 1, 1], 3000); y = (p.cumsum(1) < rng.random((3000, 1))).sum(1)
    >>> est = MulticlassConfidenceBasedEstimator().fit(y, p).estimate(p[:500])
    >>> 0.5 < est["accuracy"].value < 0.75
    True
    """

    def __init__(
        self,
        calibration: str = "isotonic",
        confidence: float = 0.95,
        n_bootstrap: int = 300,
        seed: int = 0,
    ) -> None:
        self.calibration = calibration
        self.confidence = confidence
        self.n_bootstrap = n_bootstrap
        self.seed = seed

    def fit(
        self, y_true: ArrayLike, y_score: ArrayLike, classes: Sequence[object] | None = None
    ) -> Self:
        """``classes`` names the score columns in order (default: the sorted distinct labels)."""
        scores = np.asarray(y_score, dtype=np.float64)
        labels = np.asarray(y_true).astype(str)
        names = [str(c) for c in (classes if classes is not None else np.unique(labels))]
        if scores.ndim != 2 or scores.shape[1] != len(names):
            raise MonitoringError(
                f"scores must have one column per class {names}, got {scores.shape}"
            )
        if self.calibration not in CALIBRATORS:
            raise MonitoringError(
                f"unknown calibration {self.calibration!r}; known: {sorted(CALIBRATORS)}"
            )
        self.classes_ = names
        self.calibrators_: list[Calibrator] = [
            CALIBRATORS[self.calibration]().fit(scores[:, j], labels == name)
            for j, name in enumerate(names)
        ]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrators_"):
            raise NotFittedError(
                "MulticlassConfidenceBasedEstimator is not fitted: call fit(y_true, y_score) first"
            )

    def probabilities(self, y_score: ArrayLike) -> Floats:
        """Calibrated class probabilities, rows summing to one."""
        self._check_fitted()
        scores = np.asarray(y_score, dtype=np.float64)
        p = np.column_stack([c.predict(scores[:, j]) for j, c in enumerate(self.calibrators_)])
        p = np.maximum(p, 1e-12)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)

    def estimate(self, y_score: ArrayLike, y_pred: ArrayLike | None = None) -> MetricsReport:
        """Expected metrics as a :class:`MetricsReport` (kind ``estimated``)."""
        self._check_fitted()
        scores = np.asarray(y_score, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] == 0:
            raise MonitoringError("cannot estimate performance on an empty window (scores: n x k)")
        if y_pred is None:
            pred = scores.argmax(axis=1)
        else:
            index = {name: j for j, name in enumerate(self.classes_)}
            pred = np.array([index[str(v)] for v in np.asarray(y_pred)], dtype=np.intp)
        p = self.probabilities(scores)
        per_class = [
            expected_classification_metrics(p[:, j], pred == j, scores[:, j])
            for j in range(p.shape[1])
        ]
        expected = {m: float(np.nanmean([c[m] for c in per_class])) for m in METRICS[1:]}
        expected["accuracy"] = float(p[np.arange(p.shape[0]), pred].mean())
        draws = self._draws(p, pred, scores)
        tail = (1 - self.confidence) / 2
        out = {}
        for name in METRICS:
            finite = draws[name][np.isfinite(draws[name])]
            lower, upper = (
                np.quantile(finite, [tail, 1 - tail]) if finite.size else (np.nan, np.nan)
            )
            out[name] = MetricEstimate(
                name,
                expected[name],
                float(lower),
                float(upper),
                int(p.shape[0]),
                "cbpe",
                self.confidence,
            )
        return MetricsReport(out, "estimated")

    def _draws(self, p: Floats, pred: NDArray[np.intp], scores: Floats) -> dict[str, Floats]:
        n, k = p.shape
        rng = np.random.default_rng([self.seed, zlib.crc32(scores.tobytes())])
        cumulative = np.cumsum(p, axis=1)
        ranks = np.column_stack([stats.rankdata(scores[:, j]) for j in range(k)])
        chunk = max(1, min(self.n_bootstrap, 4_000_000 // (n * k)))
        out: dict[str, list[Floats]] = {m: [] for m in METRICS}
        for start in range(0, self.n_bootstrap, chunk):
            b = min(chunk, self.n_bootstrap - start)
            labels = np.minimum((cumulative[None] < rng.random((b, n, 1))).sum(axis=2), k - 1)
            out["accuracy"].append(np.mean(labels == pred, axis=1))
            per: dict[str, list[Floats]] = {m: [] for m in METRICS[1:]}
            for j in range(k):
                positive, predicted = labels == j, pred == j
                tp = (positive & predicted).sum(axis=1).astype(np.float64)
                npos = positive.sum(axis=1).astype(np.float64)
                with np.errstate(invalid="ignore", divide="ignore"):
                    per["precision"].append(tp / predicted.sum())
                    per["recall"].append(tp / npos)
                    per["f1"].append(2 * tp / (predicted.sum() + npos))
                    per["roc_auc"].append(
                        (positive @ ranks[:, j] - npos * (npos + 1) / 2) / (npos * (n - npos))
                    )
            for m, values in per.items():
                with warnings.catch_warnings():  # a class never predicted: NaN, skipped
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out[m].append(np.nanmean(np.vstack(values), axis=0))
        return {m: np.concatenate(v) for m, v in out.items()}

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "calibration": self.calibration,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "classes": list(self.classes_),
            "calibrators": [c.to_dict() for c in self.calibrators_],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MulticlassConfidenceBasedEstimator:
        out = cls(data["calibration"], data["confidence"], data["n_bootstrap"], data["seed"])
        out.classes_ = [str(c) for c in data["classes"]]
        out.calibrators_ = [CALIBRATORS[c["name"]].from_dict(c) for c in data["calibrators"]]
        return out
