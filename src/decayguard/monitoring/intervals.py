"""Confidence intervals and design-weighted estimators (vectorised numpy, no loops over rows).

Weights are design weights ``1 / inclusion probability``. Weighted means are Hájek ratio
estimators with the linearised (Taylor) variance, which is what makes a review sample that
oversamples uncertain predictions still give unbiased (to O(1/n)) estimates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from decayguard.monitoring.errors import MonitoringError

__all__ = [
    "delong_auc",
    "hajek_mean",
    "horvitz_thompson_mean",
    "ratio_interval",
    "weighted_auc",
    "weighted_quantile_interval",
    "wilson_interval",
    "z_value",
]

Floats = NDArray[np.float64]


def z_value(confidence: float) -> float:
    """Two-sided standard-normal quantile for ``confidence`` (1.96 for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise MonitoringError(f"confidence must be in (0, 1), got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(
    successes: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[Floats, Floats]:
    """Wilson score interval for a binomial proportion (vectorised over arrays).

    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 3), round(float(hi), 3)
    (0.49, 0.943)
    """
    z = z_value(confidence)
    k = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def ratio_interval(
    numerator: ArrayLike,
    denominator: ArrayLike,
    weights: ArrayLike | None = None,
    confidence: float = 0.95,
) -> tuple[Floats, Floats, Floats]:
    """Hájek ratio ``Σ w y / Σ w d`` with a linearised normal interval: (value, lower, upper).

    Works along the last axis, so 2-D inputs give one estimate per row (a simulation in one
    call). Rows with zero weight are not in the sample. With ``d = 1`` this is the (weighted)
    mean; with unit weights its variance is ``s² / n``.

    >>> value, lower, upper = ratio_interval([1.0, 2.0, 3.0, 4.0], 1.0)
    >>> float(value), round(float(lower), 3), round(float(upper), 3)
    (2.5, 1.235, 3.765)
    """
    w_in = 1.0 if weights is None else np.asarray(weights, dtype=np.float64)
    y, d, w = np.broadcast_arrays(
        np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64), w_in
    )
    total = np.sum(w * d, axis=-1)
    n = np.count_nonzero(w, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.sum(w * y, axis=-1) / total
        residual = w * (y - ratio[..., None] * d)
        variance = np.sum(residual**2, axis=-1) / total**2 * (n / np.maximum(n - 1, 1))
    ratio = np.where(total > 0, ratio, np.nan)
    half = z_value(confidence) * np.sqrt(variance)
    return ratio, ratio - half, ratio + half


def hajek_mean(
    values: ArrayLike, inclusion_probabilities: ArrayLike, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Hájek estimate of a population mean from a sample with known inclusion probabilities."""
    weights = 1.0 / np.asarray(inclusion_probabilities, dtype=np.float64)
    value, lower, upper = ratio_interval(values, 1.0, weights, confidence)
    return float(value), float(lower), float(upper)


def horvitz_thompson_mean(
    values: ArrayLike,
    inclusion_probabilities: ArrayLike,
    population_size: int,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Horvitz–Thompson mean ``Σ y/π / N``; Poisson-sampling variance ``Σ (1-π) y²/π² / N²``."""
    y = np.asarray(values, dtype=np.float64)
    pi = np.asarray(inclusion_probabilities, dtype=np.float64)
    if np.any((pi <= 0) | (pi > 1)):
        raise MonitoringError("inclusion probabilities must be in (0, 1]")
    mean = float(np.sum(y / pi) / population_size)
    half = z_value(confidence) * float(np.sqrt(np.sum((1 - pi) * y**2 / pi**2))) / population_size
    return mean, mean - half, mean + half


def delong_auc(y_true: ArrayLike, score: ArrayLike) -> tuple[float, float]:
    """ROC AUC and its DeLong standard error (ties count one half)."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    if pos.size == 0 or neg.size == 0:
        return float("nan"), float("nan")
    below = np.searchsorted(neg, s[y], side="left") + 0.5 * (
        np.searchsorted(neg, s[y], side="right") - np.searchsorted(neg, s[y], side="left")
    )
    v10 = below / neg.size
    above = (pos.size - np.searchsorted(pos, s[~y], side="right")) + 0.5 * (
        np.searchsorted(pos, s[~y], side="right") - np.searchsorted(pos, s[~y], side="left")
    )
    v01 = above / pos.size
    auc = float(v10.mean())
    variance = v10.var(ddof=1) / pos.size if pos.size > 1 else 0.0
    variance += v01.var(ddof=1) / neg.size if neg.size > 1 else 0.0
    return auc, float(np.sqrt(variance))


def weighted_auc(y_true: ArrayLike, score: ArrayLike, weights: NDArray[np.float64]) -> Floats:
    """Weighted ROC AUC for one or many weight rows (``weights`` shape ``(n,)`` or ``(b, n)``).

    Matches ``sklearn.metrics.roc_auc_score(..., sample_weight=w)`` row by row; used with
    Poisson-bootstrap weights to get a whole bootstrap distribution in a few array operations.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    w = np.atleast_2d(weights)
    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted, w_sorted = s[order], y[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    pos = np.add.reduceat(w_sorted * y_sorted, starts, axis=1)
    neg = np.add.reduceat(w_sorted * ~y_sorted, starts, axis=1)
    neg_before = np.cumsum(neg, axis=1) - neg
    numerator = np.sum(pos * (neg_before + 0.5 * neg), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Floats = numerator / (pos.sum(axis=1) * neg.sum(axis=1))
    return out


def weighted_quantile_interval(
    values: ArrayLike,
    quantiles: Sequence[float],
    weights: ArrayLike | None = None,
    confidence: float = 0.95,
) -> tuple[Floats, Floats, Floats]:
    """Quantiles of the (weighted) empirical distribution with Woodruff intervals.

    Woodruff: an interval for ``F(ξ_q)`` from the Hájek variance of the indicator mean, mapped
    back through the empirical quantile function.
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(x)
    x, w = x[order], w[order]
    cdf = np.cumsum(w) / w.sum()
    q = np.asarray(quantiles, dtype=np.float64)

    def invert(levels: Floats) -> Floats:
        index = np.searchsorted(cdf, np.clip(levels, 0.0, 1.0) - 1e-12, side="left")
        return np.asarray(x[np.minimum(index, x.size - 1)], dtype=np.float64)

    point = invert(q)
    normalised = w / w.sum()
    indicator = (x[None, :] <= point[:, None]).astype(np.float64)
    share = indicator @ normalised
    residual = normalised[None, :] * (indicator - share[:, None])
    se = np.sqrt(np.sum(residual**2, axis=1) * x.size / max(x.size - 1, 1))
    half = z_value(confidence) * se
    return point, invert(q - half), invert(q + half)
