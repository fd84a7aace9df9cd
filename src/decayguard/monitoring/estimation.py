"""Label-free performance estimation: confidence-based (classifiers) and direct loss (regressors).

:class:`ConfidenceBasedEstimator` (CBPE) calibrates the model's scores on labelled reference
data, then treats each calibrated probability as the chance the row is positive: summing them
gives the *expected* confusion matrix (accuracy, precision, recall, F1) and the expected ROC AUC.
Its interval is the central range of the realized metric over label sets drawn from those
probabilities (a parametric bootstrap), each set from its own calibration drawn from the
calibration's uncertainty (isotonic: a Beta posterior per block; Platt: the coefficients'
asymptotic normal law), so a small reference widens it. It assumes calibration transfers:
the score-to-outcome relation is unchanged (covariate shift, not concept shift).

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

    def draw(self, scores: Floats, rng: np.random.Generator, size: int) -> Floats:
        """``size`` rows of probabilities from calibrations as likely as this one given the
        finite reference (its own uncertainty); by default the fitted calibration repeated."""
        return np.broadcast_to(self.predict(scores), (size, scores.size))

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
        # reference rows per block (a run of equal values): each row lies between the block's
        # end points, so the threshold at or below its score names its block
        block = self._blocks()
        row_block = block[np.searchsorted(self.x_, scores, side="right") - 1]
        self.counts_: Floats | None = np.bincount(row_block, minlength=int(block[-1]) + 1).astype(
            np.float64
        )
        return self

    def _blocks(self) -> NDArray[np.intp]:
        changes = np.cumsum(self.y_[1:] != self.y_[:-1])
        return np.concatenate([[0], changes]).astype(np.intp)

    def predict(self, scores: Floats) -> Floats:
        return np.asarray(np.interp(scores, self.x_, self.y_), dtype=np.float64)

    def draw(self, scores: Floats, rng: np.random.Generator, size: int) -> Floats:
        """Each block's probability from its Beta posterior (Jeffreys prior) on the reference
        rows it pooled, interpolated between blocks as :meth:`predict` does."""
        counts = getattr(self, "counts_", None)
        if counts is None or self.x_.size < 2:  # stored by an older version, or constant
            return super().draw(scores, rng, size)
        block = self._blocks()
        value = self.y_[np.r_[0, np.flatnonzero(np.diff(block)) + 1]]
        positives = value * counts
        block_p = rng.beta(positives + 0.5, counts - positives + 0.5, (size, value.size))
        y = block_p[:, block]
        right = np.clip(np.searchsorted(self.x_, scores, side="right"), 1, self.x_.size - 1)
        left = right - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.clip((scores - self.x_[left]) / (self.x_[right] - self.x_[left]), 0.0, 1.0)
        w = np.where(np.isfinite(w), w, 0.0)
        return np.asarray((1 - w) * y[:, left] + w * y[:, right], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "x": self.x_.tolist(), "y": self.y_.tolist()}
        if getattr(self, "counts_", None) is not None:
            out["counts"] = np.asarray(self.counts_).tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        out = cls()
        out.x_, out.y_ = (
            np.asarray(data["x"], dtype=np.float64),
            np.asarray(data["y"], dtype=np.float64),
        )
        out.counts_ = np.asarray(data["counts"], dtype=np.float64) if "counts" in data else None
        return out


class PlattCalibrator(Calibrator):
    """Logistic regression on the score's logit (Platt scaling)."""

    name = "platt"

    @staticmethod
    def _logit(scores: Floats) -> Floats:
        return np.asarray(special.logit(np.clip(scores, 1e-6, 1 - 1e-6)), dtype=np.float64)

    def fit(self, scores: Floats, labels: NDArray[np.bool_]) -> Self:
        z = self._logit(scores)
        model = LogisticRegression(C=1e6).fit(z[:, None], labels)
        self.coef_, self.intercept_ = float(model.coef_[0, 0]), float(model.intercept_[0])
        # the maximum-likelihood covariance of (coef, intercept): inverse Fisher information
        p = special.expit(self.coef_ * z + self.intercept_)
        design = np.column_stack([z, np.ones_like(z)])
        info = design.T @ (design * (p * (1 - p))[:, None])
        self.covariance_: Floats | None = np.linalg.pinv(info)
        return self

    def predict(self, scores: Floats) -> Floats:
        return np.asarray(
            special.expit(self.coef_ * self._logit(scores) + self.intercept_), dtype=np.float64
        )

    def draw(self, scores: Floats, rng: np.random.Generator, size: int) -> Floats:
        """Coefficients drawn from their asymptotic normal distribution."""
        covariance = getattr(self, "covariance_", None)
        if covariance is None:
            return super().draw(scores, rng, size)
        theta = rng.multivariate_normal([self.coef_, self.intercept_], covariance, size)
        z = self._logit(scores)
        return np.asarray(special.expit(theta[:, :1] * z + theta[:, 1:]), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "coef": self.coef_, "intercept": self.intercept_}
        if getattr(self, "covariance_", None) is not None:
            out["covariance"] = np.asarray(self.covariance_).tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        out = cls()
        out.coef_, out.intercept_ = float(data["coef"]), float(data["intercept"])
        cov = data.get("covariance")
        out.covariance_ = None if cov is None else np.asarray(cov, dtype=np.float64)
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
            lower, upper = np.nan, np.nan
            if finite.size:
                # the draws' spread around their own mean, centred on the expected value:
                # independently drawn calibration blocks blur the score order and would
                # otherwise pull a ranking metric's draws (ROC AUC) below the estimate
                spread = np.quantile(finite - finite.mean(), [tail, 1 - tail])
                lower, upper = np.clip(value + spread, 0.0, 1.0)
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
            size = min(chunk, self.n_bootstrap - start)
            # each label set comes from its own plausible calibration: the interval carries the
            # calibration's uncertainty (finite reference) as well as the window's
            labels = rng.random((size, n)) < self.calibrator_.draw(score, rng, size)
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
