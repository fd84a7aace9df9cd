"""Label-free performance estimation: confidence-based (classifiers) and direct loss (regressors).

:class:`ConfidenceBasedEstimator` (CBPE) calibrates the model's scores on labelled reference
data, then treats each calibrated probability as the chance the row is positive: summing them
gives the *expected* confusion matrix (accuracy, precision, recall, F1) and the expected ROC AUC.
Its interval is the estimate plus the central range of a bootstrap of its error: the
realized metric of label sets drawn from the calibrated probabilities (the window's noise,
with the Bernoulli variance the fit lost restored) minus the expected metric under a
calibration the reference could equally have given (isotonic: bootstrap refits stored at fit,
their spread and the lost variance inflated by a double bootstrap (``_iterated_inflation``);
Platt: the coefficients' asymptotic normal law), so a small reference widens it and its
overfit recentres it (see ``docs/monitoring.md`` for the measured coverage). It assumes
calibration transfers: the score-to-outcome relation is unchanged (covariate shift).

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
from scipy import optimize, special, stats
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

    def __init__(self, n_refits: int = 100, seed: int = 0) -> None:
        """``n_refits``: how many plausible calibrations :meth:`plausible` gives (seeded)."""
        self.n_refits = n_refits
        self.seed = seed

    @abstractmethod
    def fit(self, scores: Floats, labels: NDArray[np.bool_]) -> Self: ...

    @abstractmethod
    def predict(self, scores: Floats) -> Floats: ...

    def plausible(self, scores: Floats, rng: np.random.Generator) -> Floats:
        """Probabilities of ``scores`` under calibrations as likely as this one given the finite
        reference, one row per calibration (shape ``(k, n)``); by default the fitted one alone."""
        return self.predict(scores)[None, :]

    def nested_plausible(
        self, scores: Floats, n_inner: int, rng: np.random.Generator
    ) -> tuple[Floats, Floats, Floats] | None:
        """A fresh bootstrap one and two levels deep, for :func:`_iterated_inflation`:
        ``(proxy, outer, inner)``, the probabilities of reference-like ``proxy`` scores under
        ``n_refits`` refits from this fit (``(k, m)``) and ``n_inner`` refits from each of
        those (``(k, n_inner, m)``); ``None`` when the calibration's draws need no
        iteration (the default)."""
        return None

    @abstractmethod
    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    @abstractmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...


def _isotonic_steps(x: Floats, y: Floats, w: Floats) -> tuple[Floats, Floats]:
    """Weighted isotonic fit of ``y`` on distinct, increasing ``x``, reduced to the end points
    of its constant blocks (what ``IsotonicRegression.X_thresholds_`` keeps)."""
    # scipy's PAVA: scikit-learn's answer, without its ~0.25 ms of input checks per call
    fitted = np.clip(optimize.isotonic_regression(y, weights=w).x, 0.0, 1.0)
    keep = np.ones(fitted.size, dtype=bool)
    if fitted.size > 2:
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return x[keep], fitted[keep]


def _isotonic_refits(
    scores: Floats, truth: Floats, count: int, rng: np.random.Generator
) -> list[tuple[Floats, Floats]]:
    """``count`` isotonic fits on model-based bootstrap references: scores resampled, labels
    drawn from ``truth`` (each row's probability); rows become counts per distinct score, so
    each refit is one weighted PAVA pass."""
    distinct, row = np.unique(scores, return_inverse=True)
    out = []
    for _ in range(count):
        drawn = rng.integers(0, scores.size, scores.size)
        drawn_labels = rng.random(scores.size) < truth[drawn]
        w = np.bincount(row[drawn], minlength=distinct.size).astype(np.float64)
        pos = np.bincount(row[drawn], drawn_labels.astype(float), minlength=distinct.size)
        used = w > 0
        out.append(_isotonic_steps(distinct[used], pos[used] / w[used], w[used]))
    return out


class IsotonicCalibrator(Calibrator):
    """Isotonic regression (scikit-learn's, clipped to [0, 1]); ``fit`` also keeps
    ``n_refits`` isotonic fits on model-based bootstrap references (seeded), the calibration's
    uncertainty: the expected metrics are smooth functionals of the calibration curve, for
    which the bootstrap is consistent (pointwise it is not)."""

    name = "isotonic"

    def fit(self, scores: Floats, labels: NDArray[np.bool_]) -> Self:
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            scores, labels.astype(float)
        )
        self.x_ = np.asarray(model.X_thresholds_, dtype=np.float64)
        self.y_ = np.asarray(model.y_thresholds_, dtype=np.float64)
        # model-based bootstrap refits: scores resampled, labels redrawn from the fitted
        # calibration (its bias follows the real one; resampling labels too gave half of it);
        # rows become counts per distinct score, so each refit is one weighted PAVA pass
        rng = np.random.default_rng([self.seed, scores.size])
        self.refits_: list[tuple[Floats, Floats]] = _isotonic_refits(
            scores, self.predict(scores), self.n_refits, rng
        )
        return self

    def predict(self, scores: Floats) -> Floats:
        return np.asarray(np.interp(scores, self.x_, self.y_), dtype=np.float64)

    def plausible(self, scores: Floats, rng: np.random.Generator) -> Floats:
        """The bootstrap refits' probabilities (the fitted one alone for a calibrator saved
        before refits were stored)."""
        if not getattr(self, "refits_", None):
            return super().plausible(scores, rng)
        return np.stack([np.interp(scores, x, y) for x, y in self.refits_])

    def nested_plausible(
        self, scores: Floats, n_inner: int, rng: np.random.Generator
    ) -> tuple[Floats, Floats, Floats] | None:
        """Outer refits from the fit, ``n_inner`` refits from each (same model-based scheme);
        the proxy is up to 1,000 midpoints of consecutive reference scores: scores like a
        window's, which no fit saw (at a reference's own scores the fit is in-sample)."""
        if self.n_refits < 2 or n_inner < 2 or np.unique(scores).size < 2:
            return None
        ordered = np.unique(scores)
        between = (ordered[1:] + ordered[:-1]) / 2  # new scores, out of the fit's sample
        proxy = between[np.linspace(0, between.size - 1, min(between.size, 1000)).astype(int)]
        outer = _isotonic_refits(scores, self.predict(scores), self.n_refits, rng)
        inner = [_isotonic_refits(scores, np.interp(scores, x, y), n_inner, rng) for x, y in outer]
        return (
            proxy,
            np.stack([np.interp(proxy, x, y) for x, y in outer]),
            np.stack([np.stack([np.interp(proxy, x, y) for x, y in level]) for level in inner]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "x": self.x_.tolist(),
            "y": self.y_.tolist(),
            "n_refits": self.n_refits,
            "seed": self.seed,
            "refits": [{"x": x.tolist(), "y": y.tolist()} for x, y in self.refits_],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Loads dicts saved before refits were stored too (their ``counts`` are ignored)."""
        out = cls(int(data.get("n_refits", 0)), int(data.get("seed", 0)))
        out.x_, out.y_ = (
            np.asarray(data["x"], dtype=np.float64),
            np.asarray(data["y"], dtype=np.float64),
        )
        out.refits_ = [
            (np.asarray(r["x"], dtype=np.float64), np.asarray(r["y"], dtype=np.float64))
            for r in data.get("refits", [])
        ]
        return out


class PlattCalibrator(Calibrator):
    """Logistic regression on the score's logit (Platt scaling); its uncertainty is the
    coefficients' asymptotic normal law (inverse Fisher information)."""

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

    def plausible(self, scores: Floats, rng: np.random.Generator) -> Floats:
        """``n_refits`` coefficient pairs drawn from their asymptotic normal law."""
        covariance = getattr(self, "covariance_", None)
        if covariance is None or self.n_refits < 1:
            return super().plausible(scores, rng)
        theta = rng.multivariate_normal([self.coef_, self.intercept_], covariance, self.n_refits)
        z = self._logit(scores)
        return np.asarray(special.expit(theta[:, :1] * z + theta[:, 1:]), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "n_refits": self.n_refits,
            "seed": self.seed,
        }
        if getattr(self, "covariance_", None) is not None:
            out["covariance"] = np.asarray(self.covariance_).tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        out = cls(int(data.get("n_refits", 100)), int(data.get("seed", 0)))
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


def _expected_rows(p: Floats, pred: NDArray[np.bool_], score: Floats) -> dict[str, Floats]:
    """:func:`expected_classification_metrics` for each row of ``p`` (shape ``(k, n)``)."""
    tp, fn = p[:, pred].sum(axis=1), p[:, ~pred].sum(axis=1)
    out = _metrics_from_cells(tp, pred.sum() - tp, fn, (~pred).sum() - fn)
    labels = np.r_[np.ones(score.size, dtype=bool), np.zeros(score.size, dtype=bool)]
    out["roc_auc"] = weighted_auc(labels, np.r_[score, score], np.hstack([p, 1 - p]))
    return out


def _iterated_inflation(
    proxy: Floats, fitted: Floats, outer: Floats, inner: Floats, pred: NDArray[np.bool_]
) -> dict[str, float]:
    """Variance inflations for the bootstrap's calibration draws, from one more bootstrap level.

    ``fitted`` (``(m,)``), ``outer`` (``(k, m)``) and ``inner`` (``(k, j, m)``) are the
    probabilities of the ``proxy`` scores under the fit, refits from it and refits from each
    refit. Per metric, with ``E`` its expected value on the proxy:

    1. The interval is recentred by the bootstrap bias ``mean(E_outer) - E_fit``, so the error
       to reproduce is that of the *bias-corrected* estimate. Its level-1 analogue is
       ``2 E_outer[b] - mean_i E_inner[b, i]`` (each refit corrected by its own refits: the
       double bootstrap of a bias-corrected estimator); its variance ``v_bc``, less the
       Monte-Carlo variance of the ``j``-refit inner means (``v2 / j``), holds the bias
       estimate's own variance, which the outer refits alone leave out.
    2. A level-1 variance is itself a bootstrap estimate and shares the bootstrap's bias: the
       fit is more extreme than the truth (isotonic regression pools toward the labels), so
       refits from it vary less than the fit does around the truth. Bootstrap iteration
       (Hall 1992, ch. 3; Efron & Tibshirani 1993, ch. 10) estimates that bias one level
       down: level 2 (refits of refits, variance ``v2``) is to level 1 (``v1``) what level 1
       is to the truth, so the truth's variance is ``v1 * (v1 / v2)`` — multiplicatively, as
       fits a scale. Applied to ``v_bc``: ``v_bc * v1 / v2``.

    The inflation of the window's level-1 calibration variance ``v1`` is then
    ``(v_bc * v1 / v2) / v1 = v_bc / v2`` (taken on the reference-like proxy and carried to
    the window as a ratio). ``"bernoulli"`` is step 2 for the Bernoulli variance ``p(1 - p)``
    the fit loses: ``(pq_fit - pq_1) / (pq_1 - pq_2)`` of the mean ``p(1 - p)`` at each level.
    Non-finite or non-positive ratios give 1 (no inflation).
    """
    k, j, m = inner.shape
    level0 = _expected_rows(fitted[None, :], pred, proxy)
    level1 = _expected_rows(outer, pred, proxy)
    level2 = _expected_rows(inner.reshape(k * j, m), pred, proxy)
    out: dict[str, float] = {}
    for name in level0:
        e1, e2 = level1[name], level2[name].reshape(k, j)
        with np.errstate(invalid="ignore", divide="ignore"):
            v2 = float(np.mean(np.var(e2, axis=1, ddof=1)))
            corrected = 2 * e1 - np.mean(e2, axis=1)
            ratio = _ratio(float(np.var(corrected, ddof=1)) - v2 / j, v2)
        out[name] = ratio
    pq = [float(np.mean(v * (1 - v))) for v in (fitted, outer, inner)]
    out["bernoulli"] = _ratio(pq[0] - pq[1], pq[1] - pq[2])
    return out


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` when finite and positive, else 1 (no inflation): a model
    whose scores barely vary (a constant predictor) leaves no bootstrap variance to scale."""
    if denominator == 0 or not np.isfinite(numerator) or not np.isfinite(denominator):
        return 1.0
    ratio = numerator / denominator
    return ratio if np.isfinite(ratio) and ratio > 0 else 1.0


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
        n_inner: int = 10,
    ) -> None:
        """``n_inner``: refits from each refit at fit, for :func:`_iterated_inflation`."""
        self.calibration = calibration
        self.threshold = threshold
        self.confidence = confidence
        self.n_bootstrap = n_bootstrap
        self.seed = seed
        self.n_inner = n_inner

    def fit(self, y_true: ArrayLike, y_score: ArrayLike) -> Self:
        try:
            calibrator = CALIBRATORS[self.calibration](seed=self.seed)
        except KeyError as exc:
            raise MonitoringError(
                f"unknown calibration {self.calibration!r}; known: {sorted(CALIBRATORS)}"
            ) from exc
        labels = np.asarray(y_true).astype(bool)
        score = np.asarray(y_score, dtype=np.float64)
        self.calibrator_ = calibrator.fit(score, labels)
        # a stream of its own: the stored refits stay those of earlier versions
        rng = np.random.default_rng([self.seed, score.size, 1])
        nested = self.calibrator_.nested_plausible(score, self.n_inner, rng)
        self.inflation_: dict[str, float] = {}
        if nested is not None:
            proxy, outer, inner = nested
            fitted = self.calibrator_.predict(proxy)
            pred = proxy >= self.threshold
            self.inflation_ = _iterated_inflation(proxy, fitted, outer, inner, pred)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrator_"):
            raise NotFittedError(
                "ConfidenceBasedEstimator is not fitted: call fit(y_true, y_score) first"
            )

    def estimate(self, y_score: ArrayLike, y_pred: ArrayLike | None = None) -> MetricsReport:
        """Expected metrics (a :class:`MetricsReport`, kind ``estimated``). The interval is the
        estimate plus the central ``confidence`` range of a bootstrap of its error: labels drawn
        from the calibrated probabilities (the window's noise) scored against the estimate from
        a plausible calibration (bootstrap refits: the reference's finite size)."""
        self._check_fitted()
        score = np.asarray(y_score, dtype=np.float64)
        if score.size == 0:
            raise MonitoringError("cannot estimate performance on an empty window")
        pred = score >= self.threshold if y_pred is None else np.asarray(y_pred).astype(bool)
        p = self.calibrator_.predict(score)
        expected = expected_classification_metrics(p, pred, score)
        errors = self._bootstrap_errors(p, pred, score, expected)
        tail = (1 - self.confidence) / 2
        out = {}
        for name, value in expected.items():
            finite = errors[name][np.isfinite(errors[name])]
            lower, upper = np.nan, np.nan
            if finite.size:
                # order statistics at (B + 1) * tail: a fresh draw falls between them with
                # probability `confidence` exactly (the default quantile's (B - 1) * tail
                # covers ~94.4% at B = 300)
                spread = np.quantile(finite, [tail, 1 - tail], method="weibull")
                lower, upper = np.clip(value + spread, 0.0, 1.0)
            out[name] = MetricEstimate(
                name, value, float(lower), float(upper), int(score.size), "cbpe", self.confidence
            )
        return MetricsReport(out, "estimated")

    def _bootstrap_errors(
        self, p: Floats, pred: NDArray[np.bool_], score: Floats, expected: Mapping[str, float]
    ) -> dict[str, Floats]:
        """``n_bootstrap`` draws of (realized - estimated): the realized metric of labels drawn
        from the calibrated ``p`` (``expected`` is its expected metrics), minus the expected
        metric under the calibration a bootstrap reference would have given (so the spread holds
        both errors, and the refits' mean shift corrects the calibration's bias, e.g. isotonic
        regression's overfit on a small reference)."""
        # seeded per window (seed + a checksum of its scores): reproducible, yet windows do
        # not all share one random stream
        rng = np.random.default_rng([self.seed, zlib.crc32(score.tobytes())])
        n = p.size
        plausible = self.calibrator_.plausible(score, rng)
        inflation = getattr(self, "inflation_", {})
        refit = {
            # spread around their mean by the iterated bootstrap's inflation (1: none)
            name: values.mean() + np.sqrt(inflation.get(name, 1.0)) * (values - values.mean())
            for name, values in _expected_rows(plausible, pred, score).items()
        }
        # a fitted calibration is more extreme than the truth (its error, like the refits',
        # takes Bernoulli variance p(1 - p) away), so labels drawn from it are too quiet: each
        # row's label probability is moved toward 1/2 until its variance gains back what the
        # refits lost against the fit; the noise is centred on its own expectation, the
        # calibration's error stays E(fit) - E(refit)
        variance = p * (1 - p)
        lost = variance - np.mean(plausible * (1 - plausible), axis=0)
        lost *= inflation.get("bernoulli", 1.0)
        target = np.clip(variance + lost, 0.0, 0.25)
        noisy = 0.5 + np.sign(p - 0.5) * np.sqrt(0.25 - target)
        noise_expected = expected_classification_metrics(noisy, pred, score)
        shift = {name: expected[name] - noise_expected[name] for name in expected}
        ranks = stats.rankdata(score)
        n_pred = float(pred.sum())
        chunk = max(1, min(self.n_bootstrap, 4_000_000 // n))
        samples: dict[str, list[Floats]] = {}
        for start in range(0, self.n_bootstrap, chunk):
            size = min(chunk, self.n_bootstrap - start)
            which = np.arange(start, start + size) % plausible.shape[0]
            labels = rng.random((size, n)) < noisy
            tp = labels[:, pred].sum(axis=1).astype(np.float64)
            positives = labels.sum(axis=1).astype(np.float64)
            fp, fn = n_pred - tp, positives - tp
            realized = _metrics_from_cells(tp, fp, fn, n - tp - fp - fn)
            with np.errstate(invalid="ignore", divide="ignore"):
                realized["roc_auc"] = (labels @ ranks - positives * (positives + 1) / 2) / (
                    positives * (n - positives)
                )
            for name, values in realized.items():
                samples.setdefault(name, []).append(values - refit[name][which] + shift[name])
        return {name: np.concatenate(v) for name, v in samples.items()}

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "calibration": self.calibration,
            "threshold": self.threshold,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "n_inner": self.n_inner,
            "calibrator": self.calibrator_.to_dict(),
            "inflation": dict(self.inflation_),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfidenceBasedEstimator:
        params = {
            k: data[k] for k in ("calibration", "threshold", "confidence", "n_bootstrap", "seed")
        }
        out = cls(**params, n_inner=int(data.get("n_inner", 10)))
        out.calibrator_ = CALIBRATORS[data["calibrator"]["name"]].from_dict(data["calibrator"])
        # dicts saved before the iterated bootstrap: no inflation, their interval as it was
        out.inflation_ = {k: float(v) for k, v in data.get("inflation", {}).items()}
        return out
