"""Realized metrics against scikit-learn, interval coverage and design-weighted unbiasedness."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from decayguard.monitoring import (
    MonitoringError,
    hajek_mean,
    horvitz_thompson_mean,
    realized_classification_metrics,
    realized_regression_metrics,
    wilson_interval,
)
from decayguard.monitoring.intervals import delong_auc, ratio_interval, weighted_auc

RUNS = 1000


def classification_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = rng.beta(2, 2, n)
    y = (rng.random(n) < score).astype(int)
    return y, (score >= 0.5).astype(int), score


@pytest.mark.parametrize("weighted", [False, True])
def test_classification_metrics_match_sklearn(weighted: bool) -> None:
    y, pred, score = classification_sample(3000, 1)
    w = np.random.default_rng(2).uniform(1, 5, y.size) if weighted else None
    ours = realized_classification_metrics(y, pred, score, weights=w, n_bootstrap=300)
    expected = {
        "accuracy": metrics.accuracy_score(y, pred, sample_weight=w),
        "precision": metrics.precision_score(y, pred, sample_weight=w),
        "recall": metrics.recall_score(y, pred, sample_weight=w),
        "f1": metrics.f1_score(y, pred, sample_weight=w),
        "roc_auc": metrics.roc_auc_score(y, score, sample_weight=w),
        "log_loss": metrics.log_loss(y, score, sample_weight=w),
    }
    for name, value in expected.items():
        estimate = ours[name]
        assert estimate.value == pytest.approx(value, rel=1e-9), name
        assert estimate.lower <= estimate.value <= estimate.upper, name
        assert estimate.weighted is weighted
    assert ours["accuracy"].method == ("hajek" if weighted else "wilson")
    assert ours["roc_auc"].method == ("bootstrap" if weighted else "delong")


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_metrics_match_sklearn(weighted: bool) -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(10, 3, 2000)
    pred = y + rng.normal(0.5, 1.5, 2000)
    w = rng.uniform(1, 5, 2000) if weighted else None
    ours = realized_regression_metrics(y, pred, weights=w)
    assert ours["mae"].value == pytest.approx(metrics.mean_absolute_error(y, pred, sample_weight=w))
    assert ours["rmse"].value == pytest.approx(
        metrics.root_mean_squared_error(y, pred, sample_weight=w)
    )
    assert ours["mape"].value == pytest.approx(
        metrics.mean_absolute_percentage_error(y, pred, sample_weight=w)
    )
    assert ours["mean_error"].value == pytest.approx(np.average(pred - y, weights=w))
    if not weighted:
        assert ours["error_q50"].value == pytest.approx(
            np.quantile(pred - y, 0.5, method="inverted_cdf")
        )
    assert ours["error_q05"].value < ours["error_q50"].value < ours["error_q95"].value
    for estimate in ours.values():
        assert estimate.lower <= estimate.value <= estimate.upper, estimate.name


def test_wilson_matches_the_textbook_formula() -> None:
    lower, upper = wilson_interval(81, 263, 0.95)
    assert float(lower) == pytest.approx(0.2553, abs=1e-4)  # Newcombe (1998), example
    assert float(upper) == pytest.approx(0.3662, abs=1e-4)


def test_delong_auc_matches_sklearn_and_weighted_auc_matches_sample_weights() -> None:
    y, _, score = classification_sample(500, 4)
    score = np.round(score, 2)  # ties
    auc, se = delong_auc(y, score)
    assert auc == pytest.approx(metrics.roc_auc_score(y, score))
    assert 0 < se < 0.05
    w = np.random.default_rng(5).uniform(0.5, 2, (3, y.size))
    for row, value in zip(w, weighted_auc(y, score, w), strict=True):
        assert value == pytest.approx(metrics.roc_auc_score(y, score, sample_weight=row))


def test_wilson_accuracy_interval_covers_nominally_in_1000_runs() -> None:
    rng = np.random.default_rng(10)
    n, truth = 150, 0.87
    correct = rng.binomial(n, truth, RUNS)
    lower, upper = wilson_interval(correct, n, 0.95)
    coverage = np.mean((lower <= truth) & (truth <= upper))
    assert 0.93 <= coverage <= 0.97, coverage


def test_mean_interval_covers_nominally_in_1000_runs() -> None:
    # the interval behind MAE, MAPE, log loss and mean error: one vectorised call for all runs
    rng = np.random.default_rng(11)
    errors = np.abs(rng.normal(0.0, 2.0, (RUNS, 300)))
    truth = 2.0 * np.sqrt(2 / np.pi)  # E|N(0, 2²)|
    _, lower, upper = ratio_interval(errors, 1.0)
    coverage = np.mean((lower <= truth) & (truth <= upper))
    assert 0.93 <= coverage <= 0.97, coverage


def test_mae_from_realized_metrics_covers_nominally() -> None:
    rng = np.random.default_rng(12)
    hits = 0
    for _ in range(RUNS):  # the public function itself, 1,000 times (~0.5 s)
        y = rng.normal(0, 1, 200)
        mae = realized_regression_metrics(y, y + rng.normal(0, 1.0, 200))["mae"]
        hits += mae.lower <= np.sqrt(2 / np.pi) <= mae.upper
    assert 0.93 <= hits / RUNS <= 0.97, hits


def test_f1_bootstrap_interval_covers_nominally() -> None:
    rng = np.random.default_rng(13)
    # a population whose F1 is known: cells tp/fp/fn/tn with these shares
    cells = np.array([0.30, 0.10, 0.08, 0.52])
    truth = 2 * 0.30 / (2 * 0.30 + 0.10 + 0.08)
    hits = 0
    for run in range(RUNS):
        tp, fp, fn, tn = rng.multinomial(400, cells)
        y = np.r_[np.ones(tp), np.zeros(fp), np.ones(fn), np.zeros(tn)]
        pred = np.r_[np.ones(tp), np.ones(fp), np.zeros(fn), np.zeros(tn)]
        f1 = realized_classification_metrics(y, pred, n_bootstrap=1000, seed=run)["f1"]
        hits += f1.lower <= truth <= f1.upper
    assert 0.93 <= hits / RUNS <= 0.97, hits


def review_population(rng: np.random.Generator, size: int = 10_000):
    """Predictions whose correctness depends on confidence; review oversamples uncertain ones."""
    score = rng.random(size)
    correct = rng.random(size) < 0.5 + np.abs(score - 0.5)  # uncertain rows are wrong more often
    inclusion = np.clip(0.002 + 0.06 * (1 - 2 * np.abs(score - 0.5)), 0.002, 1.0)
    return correct.astype(float), inclusion


def test_weighted_estimates_are_unbiased_where_the_naive_mean_is_not() -> None:
    rng = np.random.default_rng(14)
    correct, inclusion = review_population(rng)
    truth = correct.mean()
    sampled = rng.random((RUNS, correct.size)) < inclusion  # 1,000 Poisson review samples
    weights = sampled / inclusion
    naive = (sampled * correct).sum(axis=1) / sampled.sum(axis=1)
    hajek, lower, upper = ratio_interval(correct, 1.0, weights)
    horvitz_thompson = (weights * correct).sum(axis=1) / correct.size
    standard_error = hajek.std() / np.sqrt(RUNS)
    assert abs(hajek.mean() - truth) < 3 * standard_error + 1e-3
    assert abs(horvitz_thompson.mean() - truth) < 3 * horvitz_thompson.std() / np.sqrt(RUNS) + 1e-3
    assert truth - naive.mean() > 0.05  # the naive mean over-represents uncertain, wrong rows
    coverage = np.mean((lower <= truth) & (truth <= upper))
    assert 0.93 <= coverage <= 0.97, coverage


def test_hajek_and_horvitz_thompson_helpers_agree_with_their_formulas() -> None:
    rng = np.random.default_rng(15)
    correct, inclusion = review_population(rng, 5000)
    sampled = rng.random(correct.size) < inclusion
    value, lower, upper = hajek_mean(correct[sampled], inclusion[sampled])
    w = 1 / inclusion[sampled]
    assert value == pytest.approx(np.sum(w * correct[sampled]) / np.sum(w))
    assert lower < value < upper
    ht, ht_lower, ht_upper = horvitz_thompson_mean(
        correct[sampled], inclusion[sampled], correct.size
    )
    assert ht == pytest.approx(np.sum(w * correct[sampled]) / correct.size)
    assert ht_lower < ht < ht_upper
    weighted = realized_classification_metrics(
        correct[sampled].astype(int), np.ones(sampled.sum(), dtype=int), weights=w
    )
    assert weighted["accuracy"].value == pytest.approx(value)


def test_bad_weights_are_refused_with_a_reason() -> None:
    with pytest.raises(MonitoringError, match="inclusion probability"):
        realized_classification_metrics([1, 0], [1, 1], weights=[1.0, 0.0])
