"""Realized multiclass metrics: against scikit-learn, unbiased under unequal inclusion, covering."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics

from decayguard.monitoring import MetricsReport, MonitoringError, realized_multiclass_metrics

CLASSES = ("A", "B", "C", "D")


def sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores from a Dirichlet, labels drawn from a sharpened version (the model is informative
    but miscalibrated), predictions the arg-max."""
    p = rng.dirichlet([0.8, 1.0, 1.2, 1.5], n)
    q = p**2 / (p**2).sum(axis=1, keepdims=True)
    y = np.asarray(CLASSES)[(q.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)]
    return y, np.asarray(CLASSES)[p.argmax(axis=1)], p


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_metrics_match_sklearn(weighted: bool) -> None:
    rng = np.random.default_rng(11)
    y, pred, p = sample(3000, rng)
    w = rng.uniform(1, 5, y.size) if weighted else None
    ours = realized_multiclass_metrics(y, pred, p, CLASSES, weights=w)
    labels = list(CLASSES)
    average = {"average": "macro", "labels": labels, "sample_weight": w}
    expected = {
        "accuracy": metrics.accuracy_score(y, pred, sample_weight=w),
        "precision": metrics.precision_score(y, pred, zero_division=np.nan, **average),
        "recall": metrics.recall_score(y, pred, zero_division=np.nan, **average),
        "f1": metrics.f1_score(y, pred, zero_division=np.nan, **average),
        "roc_auc": metrics.roc_auc_score(
            y, p, multi_class="ovr", average="macro", labels=labels, sample_weight=w
        ),
        "log_loss": metrics.log_loss(y, p, labels=labels, sample_weight=w),
    }
    assert isinstance(ours, MetricsReport)
    assert ours.kind == "realized"
    assert set(ours) == set(expected)
    for name, value in expected.items():
        estimate = ours[name]
        assert estimate.value == pytest.approx(value, rel=1e-9), name
        assert estimate.lower <= estimate.value <= estimate.upper, name
        assert estimate.weighted is weighted
        assert estimate.n == y.size
    assert ours["accuracy"].method == ("hajek" if weighted else "wilson")
    assert ours["f1"].method == ("hajek" if weighted else "normal")
    assert ours["roc_auc"].method == ("hajek" if weighted else "delong")
    assert ours["log_loss"].method == ("hajek" if weighted else "normal")


def test_golden_figures_on_a_small_sample() -> None:
    y = ["a", "b", "c", "a", "b", "c", "a", "a"]
    pred = ["a", "b", "b", "a", "c", "c", "b", "a"]
    m = realized_multiclass_metrics(y, pred, None, ["a", "b", "c"])
    assert m["accuracy"].value == 0.625
    assert m["precision"].value == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    assert m["recall"].value == pytest.approx((3 / 4 + 1 / 2 + 1 / 2) / 3)
    assert "roc_auc" not in m  # no probabilities
    assert "log_loss" not in m
    assert m["f1"].lower < m["f1"].value < m["f1"].upper


def test_a_class_absent_from_the_window_is_left_out_of_the_macro_average() -> None:
    rng = np.random.default_rng(5)
    y, pred, p = sample(600, rng)
    keep = y != "D"  # no true D: its recall and AUC are undefined
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = realized_multiclass_metrics(y[keep], pred[keep], p[keep], CLASSES)
    assert ours["recall"].value == pytest.approx(
        metrics.recall_score(
            y[keep], pred[keep], labels=list(CLASSES), average="macro", zero_division=np.nan
        )
    )
    per_class = [
        metrics.roc_auc_score(y[keep] == c, p[keep][:, j]) for j, c in enumerate(CLASSES[:3])
    ]
    assert ours["roc_auc"].value == pytest.approx(np.mean(per_class))


def test_weighted_estimates_are_unbiased_under_unequal_inclusion() -> None:
    """Reviews oversample uncertain predictions (the wrong ones): the naive mean is biased, the
    Hájek-weighted figures are not."""
    rng = np.random.default_rng(2024)
    y, pred, p = sample(20_000, rng)
    population = realized_multiclass_metrics(y, pred, p, CLASSES)
    inclusion = np.clip(0.6 * (1 - p.max(axis=1)) ** 2, 0.01, 1.0)
    names = ("accuracy", "f1", "roc_auc", "log_loss")
    weighted, naive = {m: [] for m in names}, {m: [] for m in names}
    for _ in range(300):
        drawn = rng.random(y.size) < inclusion
        args = (y[drawn], pred[drawn], p[drawn], CLASSES)
        w = realized_multiclass_metrics(*args, weights=1 / inclusion[drawn])
        u = realized_multiclass_metrics(*args)
        for m in names:
            weighted[m].append(w[m].value)
            naive[m].append(u[m].value)
    for m in names:
        truth = population[m].value
        mean, se = np.mean(weighted[m]), np.std(weighted[m], ddof=1) / np.sqrt(300)
        assert abs(mean - truth) < 4 * se + 0.003, m
        assert abs(np.mean(naive[m]) - truth) > 10 * se, m  # the design really is informative


def test_macro_intervals_cover_nominally_in_1000_runs() -> None:
    rng = np.random.default_rng(99)
    y, pred, p = sample(400_000, rng)
    truth = {
        "precision": metrics.precision_score(y, pred, average="macro"),
        "recall": metrics.recall_score(y, pred, average="macro"),
        "f1": metrics.f1_score(y, pred, average="macro"),
        "roc_auc": metrics.roc_auc_score(y, p, multi_class="ovr"),
    }
    covered = dict.fromkeys(truth, 0)
    for _ in range(1000):
        index = rng.integers(0, y.size, 500)
        m = realized_multiclass_metrics(y[index], pred[index], p[index], CLASSES)
        for name, value in truth.items():
            covered[name] += m[name].lower <= value <= m[name].upper
    for name, count in covered.items():
        assert 0.93 <= count / 1000 <= 0.97, (name, count)


def test_bad_input_is_refused_with_a_reason() -> None:
    with pytest.raises(MonitoringError, match="at least two classes"):
        realized_multiclass_metrics(["a"], ["a"], None, ["a"])
    with pytest.raises(MonitoringError, match="probabilities must have shape"):
        realized_multiclass_metrics(["a", "b"], ["a", "b"], np.ones((2, 3)), ["a", "b"])
    with pytest.raises(MonitoringError, match="weights must be positive"):
        realized_multiclass_metrics(["a", "b"], ["a", "b"], None, ["a", "b"], weights=[1, 0])
