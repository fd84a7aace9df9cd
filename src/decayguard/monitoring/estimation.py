"""Label-free performance estimation: confidence-based (classifiers) and direct loss (regressors).

:class:`ConfidenceBasedEstimator` (CBPE) calibrates the model's scores on labelled reference
data, then treats each calibrated probability as the chance the row is positive: summing them
gives the *expected* confusion matrix (accuracy, precision, recall, F1) and the expected ROC AUC.
Its interval is the central range of the realized metric over label sets drawn from those
probabilities (a parametric bootstrap); the calibration's own uncertainty (finite reference) is
not included. It assumes calibration transfers: the score-to-outcome
relation is unchanged (covariate shift, not concept shift).

:class:`DirectLossEstimator` (DLE, regressors) lives in :mod:`decayguard.monitoring.direct_loss`
and is re-exported here.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from decayguard.monitoring.direct_loss import DirectLossEstimator
from decayguard.monitoring.errors import MonitoringError, NotFittedError
from decayguard.monitoring.intervals import weighted_auc
from decayguard.monitoring.results import MetricEstimate, MetricsReport

__all__ = [
    "CALIBRATORS",
    "Calibrator",
    "ConfidenceBasedEstimator",
    "DirectLossEstimator",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "expected_classification_metrics",
]

Floats = NDArray[np.float64]


class Calibrator(ABC):
    """Maps scores to calibrated probabilities; serialisable as plain numbers."""

    name: ClassVar[str]

    @abstractmethod
    def fit(self, scores: Floats, labels: NDArray[np.bool_]) -> Self: ...

    @abstractmethod
    def predict(self, scores: Floats) -> Floats: ...

    @abstractmethod
    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    @abstractmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...


class IsotonicCalibrator(Calibrator):
    name = "isotonic"

    def fit(self, scores: Floats, labels: NDArray[np.bool_]) -> Self:
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            scores, labels.astype(float)
        )
        self.x_ = np.asarray(model.X_thresholds_, dtype=np.float64)
        self.y_ = np.asarray(model.y_thresholds_, dtype=np.float64)
        return self

    def predict(self, scores: Floats) -> Floats:
        return np.asarray(np.interp(scores, self.x_, self.y_), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "x": self.x_.tolist(), "y": self.y_.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        out = cls()
        out.x_, out.y_ = (
            np.asarray(data["x"], dtype=np.float64),
            np.asarray(data["y"], dtype=np.float64),
        )
        return out


class PlattCalibrator(Calibrator):
    """Logistic regression on the score's logit (Platt scaling)."""

    name = "platt"

    @staticmethod
    def _logit(scores: Floats) -> Floats:
        return np.asarray(special.logit(np.clip(scores, 1e-6, 1 - 1e-6)), dtype=np.float64)

    def fit(self, scores: Floats, labels: NDArray[np.bool_]) -> Self:
        model = LogisticRegression(C=1e6).fit(self._logit(scores)[:, None], labels)
        self.coef_, self.intercept_ = float(model.coef_[0, 0]), float(model.intercept_[0])
        return self

    def predict(self, scores: Floats) -> Floats:
        return np.asarray(
            special.expit(self.coef_ * self._logit(scores) + self.intercept_), dtype=np.float64
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "coef": self.coef_, "intercept": self.intercept_}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        out = cls()
        out.coef_, out.intercept_ = float(data["coef"]), float(data["intercept"])
        return out


CALIBRATORS: dict[str, type[Calibrator]] = {
    c.name: c for c in (IsotonicCalibrator, PlattCalibrator)
}


def _metrics_from_cells(tp: Floats, fp: Floats, fn: Floats, tn: Floats) -> dict[str, Floats]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "accuracy": (tp + tn) / (tp + fp + fn + tn),
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
        }


def expected_classification_metrics(
    probabilities: ArrayLike, y_pred: ArrayLike, y_score: ArrayLike
) -> dict[str, float]:
    """Expected accuracy, precision, recall, F1 and ROC AUC when row ``i`` is positive with
    probability ``probabilities[i]`` (the expected confusion matrix; AUC counts each row as a
    positive with weight ``p`` and a negative with weight ``1 - p``)."""
    p = np.asarray(probabilities, dtype=np.float64)
    pred = np.asarray(y_pred).astype(bool)
    cells = [np.array([np.sum(v)]) for v in (p[pred], 1 - p[pred], p[~pred], 1 - p[~pred])]
    out = {k: float(v[0]) for k, v in _metrics_from_cells(*cells).items()}
    score = np.asarray(y_score, dtype=np.float64)
    labels = np.r_[np.ones(p.size, dtype=bool), np.zeros(p.size, dtype=bool)]
    out["roc_auc"] = float(weighted_auc(labels, np.r_[score, score], np.r_[p, 1 - p])[0])
    return out


class ConfidenceBasedEstimator:
    """CBPE for a binary classifier: ``fit`` on labelled reference scores, ``estimate`` per window.

    >>> rng = np.random.default_rng(0)
    >>> s = rng.random(4000); y = rng.random(4000) < s
    >>> est = ConfidenceBasedEstimator().fit(y, s).estimate(rng.random(1000))
    >>> 0.7 < est["accuracy"].value < 0.8
    True
    """

    def __init__(
        self,
        calibration: str = "isotonic",
        threshold: float = 0.5,
        confidence: float = 0.95,
        n_bootstrap: int = 300,
        seed: int = 0,
    ) -> None:
        self.calibration = calibration
        self.threshold = threshold
        self.confidence = confidence
        self.n_bootstrap = n_bootstrap
        self.seed = seed

    def fit(self, y_true: ArrayLike, y_score: ArrayLike) -> Self:
        try:
            calibrator = CALIBRATORS[self.calibration]()
        except KeyError as exc:
            raise MonitoringError(
                f"unknown calibration {self.calibration!r}; known: {sorted(CALIBRATORS)}"
            ) from exc
        labels = np.asarray(y_true).astype(bool)
        self.calibrator_ = calibrator.fit(np.asarray(y_score, dtype=np.float64), labels)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrator_"):
            raise NotFittedError(
                "ConfidenceBasedEstimator is not fitted: call fit(y_true, y_score) first"
            )

    def estimate(self, y_score: ArrayLike, y_pred: ArrayLike | None = None) -> MetricsReport:
        """Expected metrics (a :class:`MetricsReport`, kind ``estimated``); the interval is the
        central ``confidence`` range of the realized metric over label sets drawn from the
        calibrated probabilities (parametric bootstrap)."""
        self._check_fitted()
        score = np.asarray(y_score, dtype=np.float64)
        if score.size == 0:
            raise MonitoringError("cannot estimate performance on an empty window")
        pred = score >= self.threshold if y_pred is None else np.asarray(y_pred).astype(bool)
        p = self.calibrator_.predict(score)
        expected = expected_classification_metrics(p, pred, score)
        draws = self._bootstrap_draws(p, pred, score)
        tail = (1 - self.confidence) / 2
        out = {}
        for name, value in expected.items():
            finite = draws[name][np.isfinite(draws[name])]
            lower, upper = (
                np.quantile(finite, [tail, 1 - tail]) if finite.size else (np.nan, np.nan)
            )
            out[name] = MetricEstimate(
                name, value, float(lower), float(upper), int(score.size), "cbpe", self.confidence
            )
        return MetricsReport(out, "estimated")

    def _bootstrap_draws(
        self, p: Floats, pred: NDArray[np.bool_], score: Floats
    ) -> dict[str, Floats]:
        """Realized metrics of ``n_bootstrap`` label sets drawn from calibrated probabilities."""
        # seeded per window (seed + a checksum of its scores): reproducible, yet windows do
        # not all share one random stream
        rng = np.random.default_rng([self.seed, zlib.crc32(score.tobytes())])
        n = p.size
        ranks = stats.rankdata(score)
        chunk = max(1, min(self.n_bootstrap, 4_000_000 // n))
        samples: dict[str, list[Floats]] = {}
        for start in range(0, self.n_bootstrap, chunk):
            labels = rng.random((min(chunk, self.n_bootstrap - start), n)) < p
            tp = labels[:, pred].sum(axis=1).astype(np.float64)
            positives = labels.sum(axis=1).astype(np.float64)
            n_pred = float(pred.sum())
            fp, fn = n_pred - tp, positives - tp
            draws = _metrics_from_cells(tp, fp, fn, n - tp - fp - fn)
            with np.errstate(invalid="ignore", divide="ignore"):
                draws["roc_auc"] = (labels @ ranks - positives * (positives + 1) / 2) / (
                    positives * (n - positives)
                )
            for name, values in draws.items():
                samples.setdefault(name, []).append(values)
        return {name: np.concatenate(v) for name, v in samples.items()}

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "calibration": self.calibration,
            "threshold": self.threshold,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "calibrator": self.calibrator_.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfidenceBasedEstimator:
        params = {
            k: data[k] for k in ("calibration", "threshold", "confidence", "n_bootstrap", "seed")
        }
        out = cls(**params)
        out.calibrator_ = CALIBRATORS[data["calibrator"]["name"]].from_dict(data["calibrator"])
        return out
