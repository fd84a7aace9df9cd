"""Binary CBPE: how often the ROC AUC and accuracy intervals hold the realized metric.

A calibrated world (scores ~ Beta(2, 2), labels ~ Bernoulli(score)). Coverage is measured over
reference fits and windows together: a fresh labelled reference for every window (the interval
carries the calibration's error, which is fixed for one reference, so one reference's coverage
is not the interval's). The test runs 150 windows per calibration; the 1,000-run figures per
seed quoted in docs/monitoring.md come from ``bench/cbpe_coverage.py`` (tens of minutes: a
benchmark, not a test).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics

from decayguard.monitoring import ConfidenceBasedEstimator

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def calibrated(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    score = rng.beta(2.0, 2.0, n)
    return (rng.random(n) < score).astype(int), score


def realized_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """The window's realized metrics (numpy; checked against scikit-learn below)."""
    pred = s >= 0.5
    tp, fp, fn = np.sum(y & pred), np.sum(~y & pred), np.sum(y & ~pred)
    ranks = stats.rankdata(s)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "accuracy": float(np.mean(y == pred)),
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
            "roc_auc": (ranks[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum()),
        }


def test_realized_metrics_are_sklearn_metrics() -> None:
    y, s = calibrated(500, np.random.default_rng(0))
    ours, pred = realized_metrics(y.astype(bool), s), s >= 0.5
    assert ours["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert ours["precision"] == pytest.approx(metrics.precision_score(y, pred))
    assert ours["recall"] == pytest.approx(metrics.recall_score(y, pred))
    assert ours["f1"] == pytest.approx(metrics.f1_score(y, pred))
    assert ours["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, s))


def coverage(
    seed: int, runs: int, reference: int, window: int, calibration: str = "isotonic"
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(METRICS, 0)
    for _ in range(runs):
        y_ref, s_ref = calibrated(reference, rng)
        estimator = ConfidenceBasedEstimator(calibration, seed=seed).fit(y_ref, s_ref)
        y, s = calibrated(window, rng)
        estimate = estimator.estimate(s)
        realized = realized_metrics(y.astype(bool), s)
        for name in METRICS:
            hits[name] += estimate[name].lower <= realized[name] <= estimate[name].upper
    return {name: count / runs for name, count in hits.items()}


@pytest.mark.parametrize("calibration", ["isotonic", "platt"])
def test_cbpe_intervals_cover_about_95_percent(calibration: str) -> None:
    shares = coverage(3, 150, 1000, 300, calibration)
    for name, share in shares.items():  # 150 runs: a binomial sd of 1.8 points
        assert 0.89 <= share <= 0.995, (name, share)
