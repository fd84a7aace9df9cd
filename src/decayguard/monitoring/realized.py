"""Realized performance from labels, each figure with a confidence interval.

Interval methods (the ``method`` field of every :class:`MetricEstimate`):

* proportions (accuracy, precision, recall) — ``wilson``;
* F1 — ``bootstrap``: percentile interval of a multinomial bootstrap of the confusion matrix
  (exactly a row bootstrap, since F1 depends on the rows only through that matrix);
* ROC AUC — ``delong`` (normal, DeLong variance);
* means (log loss, MAE, MAPE, mean error, and MSE, whose bounds give RMSE's) — ``normal``;
* weighted (``weights = 1 / inclusion probability``): Hájek ratio estimators with linearised
  variance (``hajek``) for every ratio metric incl. F1; ROC AUC by a Poisson bootstrap
  (``bootstrap``); quantiles by Woodruff intervals;
* multiclass macro averages (precision, recall, F1, one-vs-rest ROC AUC) — linearised normal
  intervals (``normal``; ``delong`` for the AUC; ``hajek`` when weighted): each row's influence
  on the macro average gives its variance.

Every function returns a :class:`MetricsReport` of kind ``realized``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from decayguard.monitoring.errors import MonitoringError
from decayguard.monitoring.intervals import (
    delong_auc,
    ratio_interval,
    weighted_auc,
    weighted_quantile_interval,
    wilson_interval,
    z_value,
)
from decayguard.monitoring.results import MetricEstimate, MetricsReport

__all__ = [
    "realized_classification_metrics",
    "realized_multiclass_metrics",
    "realized_regression_metrics",
]

Floats = NDArray[np.float64]
ERROR_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _weights(weights: ArrayLike | None, n: int) -> NDArray[np.float64] | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or np.any(w <= 0) or not np.all(np.isfinite(w)):
        raise MonitoringError(
            "weights must be positive, finite and one per row (1 / inclusion probability)"
        )
    return w


def _ratio(
    name: str, y: ArrayLike, d: ArrayLike, w: NDArray[np.float64] | None, n: int, conf: float
) -> MetricEstimate:
    value, lower, upper = (float(v) for v in ratio_interval(y, d, w, conf))
    method = "normal" if w is None else "hajek"
    return MetricEstimate(name, value, lower, upper, n, method, conf, w is not None)


def _bounded(estimate: MetricEstimate, low: float = 0.0, high: float = 1.0) -> MetricEstimate:
    lower, upper = max(estimate.lower, low), min(estimate.upper, high)
    return MetricEstimate(
        estimate.name,
        estimate.value,
        lower,
        upper,
        estimate.n,
        estimate.method,
        estimate.confidence,
        estimate.weighted,
    )


def realized_classification_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_score: ArrayLike | None = None,
    *,
    weights: ArrayLike | None = None,
    confidence: float = 0.95,
    positive_label: object = 1,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> MetricsReport:
    """Accuracy, precision, recall and F1 (binary, ``positive_label``); ROC AUC and log loss when
    ``y_score`` (probability of the positive class) is given.

    >>> m = realized_classification_metrics([1, 0, 1, 1, 0, 1, 0, 0], [1, 0, 1, 0, 0, 1, 1, 0])
    >>> m["accuracy"].value, m["accuracy"].method
    (0.75, 'wilson')
    """
    truth = np.asarray(y_true) == positive_label
    pred = np.asarray(y_pred) == positive_label
    n = truth.size
    if n == 0 or pred.size != n:
        raise MonitoringError("y_true and y_pred must be non-empty and of equal length")
    w = _weights(weights, n)
    correct = (np.asarray(y_true) == np.asarray(y_pred)).astype(np.float64)
    tp, fp, fn = (
        (truth & pred).astype(np.float64),
        (~truth & pred).astype(np.float64),
        (truth & ~pred).astype(np.float64),
    )
    out: dict[str, MetricEstimate] = {}
    if w is None:
        for name, k, m in (
            ("accuracy", correct.sum(), n),
            ("precision", tp.sum(), tp.sum() + fp.sum()),
            ("recall", tp.sum(), tp.sum() + fn.sum()),
        ):
            lower, upper = wilson_interval(k, m, confidence) if m else (np.nan, np.nan)
            out[name] = MetricEstimate(
                name,
                float(k / m) if m else float("nan"),
                float(lower),
                float(upper),
                int(m),
                "wilson",
                confidence,
            )
        out["f1"] = _f1_bootstrap(tp.sum(), fp.sum(), fn.sum(), n, confidence, n_bootstrap, seed)
    else:
        out["accuracy"] = _bounded(_ratio("accuracy", correct, 1.0, w, n, confidence))
        out["precision"] = _bounded(_ratio("precision", tp, tp + fp, w, n, confidence))
        out["recall"] = _bounded(_ratio("recall", tp, tp + fn, w, n, confidence))
        out["f1"] = _bounded(_ratio("f1", 2 * tp, 2 * tp + fp + fn, w, n, confidence))
    if y_score is not None:
        score = np.asarray(y_score, dtype=np.float64)
        out["roc_auc"] = _auc(truth, score, w, confidence, n_bootstrap, seed)
        p = np.clip(score, np.finfo(np.float64).eps, 1 - np.finfo(np.float64).eps)
        loss = -np.where(truth, np.log(p), np.log1p(-p))
        estimate = _ratio("log_loss", loss, 1.0, w, n, confidence)
        out["log_loss"] = _bounded(estimate, 0.0, np.inf)
    return MetricsReport(out, "realized")


def _f1_bootstrap(
    tp: float, fp: float, fn: float, n: int, conf: float, b: int, seed: int
) -> MetricEstimate:
    denominator = 2 * tp + fp + fn
    value = 2 * tp / denominator if denominator else float("nan")
    cells = np.array([tp, fp, fn, n - tp - fp - fn]) / n
    draws = np.random.default_rng(seed).multinomial(n, cells, size=b).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * draws[:, 0] / (2 * draws[:, 0] + draws[:, 1] + draws[:, 2])
    tail = (1 - conf) / 2
    lower, upper = (
        np.nanquantile(f1, [tail, 1 - tail]) if np.isfinite(f1).any() else (np.nan, np.nan)
    )
    return MetricEstimate("f1", value, float(lower), float(upper), n, "bootstrap", conf)


def _auc(
    truth: NDArray[np.bool_],
    score: NDArray[np.float64],
    w: NDArray[np.float64] | None,
    conf: float,
    b: int,
    seed: int,
) -> MetricEstimate:
    n = truth.size
    if w is None:
        auc, se = delong_auc(truth, score)
        half = z_value(conf) * se
        return MetricEstimate(
            "roc_auc", auc, max(auc - half, 0.0), min(auc + half, 1.0), n, "delong", conf
        )
    auc = float(weighted_auc(truth, score, w)[0])
    if truth.all() or not truth.any():  # one class only: AUC is undefined, not an error
        nan = float("nan")
        return MetricEstimate("roc_auc", nan, nan, nan, n, "bootstrap", conf, True)
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, b, 100):  # bounded memory: 100 bootstrap rows at a time
        boot = rng.poisson(1.0, size=(min(100, b - start), n)) * w
        draws.append(weighted_auc(truth, score, boot))
    samples = np.concatenate(draws)
    samples = samples[np.isfinite(samples)]  # resamples that drew a single class
    if samples.size == 0:
        return MetricEstimate(
            "roc_auc", auc, float("nan"), float("nan"), n, "bootstrap", conf, True
        )
    tail = (1 - conf) / 2
    lower, upper = np.quantile(samples, [tail, 1 - tail])
    return MetricEstimate("roc_auc", auc, float(lower), float(upper), n, "bootstrap", conf, True)


def realized_regression_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    confidence: float = 0.95,
) -> MetricsReport:
    """MAE, RMSE, MAPE, mean error and error quantiles (``error_q05`` … ``error_q95``).

    Errors are ``y_pred - y_true``. MAPE divides by ``max(|y_true|, eps)`` like scikit-learn.
    """
    truth = np.asarray(y_true, dtype=np.float64)
    error = np.asarray(y_pred, dtype=np.float64) - truth
    n = error.size
    if n == 0 or truth.size != n:
        raise MonitoringError("y_true and y_pred must be non-empty and of equal length")
    w = _weights(weights, n)
    absolute = np.abs(error)
    out: dict[str, MetricEstimate] = {
        "mae": _bounded(_ratio("mae", absolute, 1.0, w, n, confidence), 0.0, np.inf),
        "mape": _bounded(
            _ratio(
                "mape",
                absolute / np.maximum(np.abs(truth), np.finfo(np.float64).eps),
                1.0,
                w,
                n,
                confidence,
            ),
            0.0,
            np.inf,
        ),
        "mean_error": _ratio("mean_error", error, 1.0, w, n, confidence),
    }
    mse = _ratio("mse", error**2, 1.0, w, n, confidence)
    out["rmse"] = MetricEstimate(
        "rmse",
        float(np.sqrt(mse.value)),
        float(np.sqrt(max(mse.lower, 0.0))),
        float(np.sqrt(mse.upper)),
        n,
        mse.method,
        confidence,
        w is not None,
    )
    points, lowers, uppers = weighted_quantile_interval(error, ERROR_QUANTILES, w, confidence)
    for q, value, lower, upper in zip(ERROR_QUANTILES, points, lowers, uppers, strict=True):
        name = f"error_q{round(q * 100):02d}"
        out[name] = MetricEstimate(
            name, float(value), float(lower), float(upper), n, "woodruff", confidence, w is not None
        )
    return MetricsReport(out, "realized")


def realized_multiclass_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    probabilities: ArrayLike | None,
    classes: Sequence[object],
    *,
    weights: ArrayLike | None = None,
    confidence: float = 0.95,
) -> MetricsReport:
    """Accuracy, macro precision, recall and F1; macro one-vs-rest ROC AUC and log loss when
    ``probabilities`` (``(n, k)``, column ``j`` for ``classes[j]``) are given.

    A class never predicted (precision) or never true (recall, AUC) is left out of the macro
    average, as scikit-learn does with ``zero_division=np.nan``. With ``weights`` every figure
    is a Hájek (design-weighted) estimate of the population's. Macro intervals are linearised:
    each row's influence on the macro average (for the AUC, DeLong's structural components,
    design-weighted) gives the variance, in O(n k log n) without resampling.

    >>> m = realized_multiclass_metrics(list("abcab"), list("abcbb"), None, list("abc"))
    >>> m["accuracy"].value, round(m["recall"].value, 4), m["f1"].method
    (0.8, 0.8333, 'normal')
    """
    truth, pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
    names = np.asarray([str(c) for c in classes])
    n = truth.size
    if n == 0 or pred.size != n or names.size < 2:
        raise MonitoringError(
            "y_true and y_pred must be non-empty and of equal length, with at least two classes"
        )
    w = _weights(weights, n)
    correct = (truth == pred).astype(np.float64)
    if w is None:
        k = correct.sum()
        lower, upper = wilson_interval(k, n, confidence)
        accuracy = MetricEstimate(
            "accuracy", float(k / n), float(lower), float(upper), n, "wilson", confidence
        )
    else:
        accuracy = _bounded(_ratio("accuracy", correct, 1.0, w, n, confidence))
    out = {"accuracy": accuracy}
    actual = truth[:, None] == names[None, :]
    predicted = pred[:, None] == names[None, :]
    p = None if probabilities is None else np.asarray(probabilities, dtype=np.float64)
    if p is not None and p.shape != (n, names.size):
        raise MonitoringError(f"probabilities must have shape {(n, names.size)}, got {p.shape}")
    base = np.ones(n) if w is None else w
    hit = (actual & predicted).astype(np.float64)
    per_class = {
        "precision": [
            _ratio_influence(hit[:, j], predicted[:, j], base) for j in range(names.size)
        ],
        "recall": [_ratio_influence(hit[:, j], actual[:, j], base) for j in range(names.size)],
        "f1": [
            _ratio_influence(2 * hit[:, j], 1.0 * predicted[:, j] + actual[:, j], base)
            for j in range(names.size)
        ],
    }
    if p is not None:
        per_class["roc_auc"] = [
            _auc_influence(actual[:, j], p[:, j], base) for j in range(names.size)
        ]
    z = z_value(confidence)
    for name, parts in per_class.items():
        value, influence = _macro(parts)
        half = z * float(np.sqrt(np.sum((base * influence) ** 2) * n / max(n - 1, 1)))
        method = "hajek" if w is not None else "delong" if name == "roc_auc" else "normal"
        out[name] = MetricEstimate(
            name,
            value,
            max(value - half, 0.0),
            min(value + half, 1.0),
            n,
            method,
            confidence,
            w is not None,
        )
    if p is not None:
        tiny = np.finfo(np.float64).eps
        rows = p / np.maximum(p.sum(axis=1, keepdims=True), tiny)
        true_p = np.where(actual.any(axis=1), (rows * actual).sum(axis=1), 0.0)
        loss = -np.log(np.clip(true_p, tiny, 1.0))
        out["log_loss"] = _bounded(_ratio("log_loss", loss, 1.0, w, n, confidence), 0.0, np.inf)
    return MetricsReport(out, "realized")


Influence = tuple[float, NDArray[np.float64]]
"""A per-class figure and each row's influence on it (the derivative by the row's weight)."""


def _ratio_influence(a: ArrayLike, d: ArrayLike, w: NDArray[np.float64]) -> Influence:
    """``Σ w a / Σ w d`` and its influence ``(a - R d) / Σ w d`` (NaN when ``Σ w d = 0``)."""
    num, den = np.asarray(a, dtype=np.float64), np.asarray(d, dtype=np.float64)
    total = float(w @ den)
    if total <= 0:
        return float("nan"), np.zeros_like(num)
    ratio = float(w @ num) / total
    return ratio, (num - ratio * den) / total


def _auc_influence(positive: NDArray[np.bool_], score: NDArray[np.float64], w: Floats) -> Influence:
    """Weighted one-vs-rest ROC AUC (ties count one half) and its influence: DeLong's
    structural components, centred and scaled (unit weights give DeLong's variance)."""
    w_pos, w_neg = float(w[positive].sum()), float(w[~positive].sum())
    if w_pos <= 0 or w_neg <= 0:
        return float("nan"), np.zeros_like(score)

    def below_and_tied(group: NDArray[np.bool_]) -> tuple[Floats, Floats]:
        order = np.argsort(score[group], kind="stable")
        ordered = score[group][order]
        cumulative = np.r_[0.0, np.cumsum(w[group][order])]
        left = cumulative[np.searchsorted(ordered, score, side="left")]
        right = cumulative[np.searchsorted(ordered, score, side="right")]
        return left, right - left

    neg_below, neg_tied = below_and_tied(~positive)
    pos_below, pos_tied = below_and_tied(positive)
    beaten = (neg_below + 0.5 * neg_tied) / w_neg  # a positive row's share of negatives below
    beating = (w_pos - pos_below - pos_tied + 0.5 * pos_tied) / w_pos  # positives above a negative
    auc = float(w[positive] @ beaten[positive]) / w_pos
    influence = np.where(positive, (beaten - auc) / w_pos, (beating - auc) / w_neg)
    return auc, np.asarray(influence, dtype=np.float64)


def _macro(parts: list[Influence]) -> tuple[float, Floats]:
    """The mean of the defined per-class figures and the mean of their influences."""
    defined = [(value, z) for value, z in parts if np.isfinite(value)]
    if not defined:
        return float("nan"), np.zeros_like(parts[0][1])
    values, influences = zip(*defined, strict=True)
    return float(np.mean(values)), np.mean(np.vstack(influences), axis=0)
