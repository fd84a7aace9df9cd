"""Decay decisions: interval rule, sequential CUSUM test (golden index, measured false alarms)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decayguard.monitoring import (
    CusumDecayTest,
    MetricEstimate,
    MonitoringError,
    PerformanceThresholdRule,
    realized_classification_metrics,
    wilson_interval,
)
from decayguard.monitoring.decision import cusum_statistics


def test_interval_rule_needs_the_whole_interval_below_the_threshold() -> None:
    rule = PerformanceThresholdRule("accuracy", 0.90)
    conclusive = rule.decide(MetricEstimate("accuracy", 0.85, 0.83, 0.87, 2000, "wilson"))
    assert conclusive.decayed
    assert conclusive.reason.startswith(
        "decayed: accuracy 0.85, upper 95% bound 0.87 < threshold 0.9"
    )
    inconclusive = rule.decide(MetricEstimate("accuracy", 0.85, 0.78, 0.91, 100, "wilson"))
    assert not inconclusive.decayed
    assert "upper 95% bound 0.91 >= threshold 0.9" in inconclusive.reason
    assert inconclusive.to_point().name == "decay.accuracy"


def test_interval_rule_for_lower_is_better_metrics() -> None:
    rule = PerformanceThresholdRule("mae", 1.0)
    assert rule.decide(MetricEstimate("mae", 1.3, 1.1, 1.5, 500, "normal")).decayed
    assert not rule.decide(MetricEstimate("mae", 1.3, 0.9, 1.7, 50, "normal")).decayed
    with pytest.raises(MonitoringError, match="higher_is_better"):
        PerformanceThresholdRule("custom", 1.0).decide(
            MetricEstimate("custom", 1, 0, 2, 1, "normal")
        )


def window_accuracies(
    rng: np.random.Generator, windows: int, change: int, before: float, after: float
):
    estimates = []
    for t in range(windows):
        truth = before if t < change else after
        correct = rng.random(1000) < truth
        estimates.append(
            realized_classification_metrics(correct.astype(int), np.ones(1000, dtype=int))[
                "accuracy"
            ]
        )
    return estimates


def test_golden_cusum_latches_on_a_small_persistent_drop_where_the_interval_rule_flaps() -> None:
    # accuracy 0.92 -> 0.88 at window 10, threshold 0.89, 1,000 labels per window (seeded)
    rng = np.random.default_rng(21)
    estimates = window_accuracies(rng, 40, change=10, before=0.92, after=0.88)
    rule = PerformanceThresholdRule("accuracy", 0.89)
    single = [t for t, e in enumerate(estimates) if rule.decide(e).decayed]
    test = CusumDecayTest("accuracy", 0.89)
    alarms = [t for t, e in enumerate(estimates) if test.update(e).decayed_]
    assert single == [12, 16, 17, 25, 29, 30, 33, 39]  # on and off: a deficit of ~1 sd per window
    assert alarms == list(range(19, 40))  # latched from window 19 on
    assert test.reason_ == (
        "decayed: CUSUM of the standardised accuracy deficit against 0.89 reached 8.51 > limit 8 "
        "at window 20"
    )


def test_interval_rule_false_alarm_rate_per_window_is_its_one_sided_level() -> None:
    # At the threshold the per-window rule false-alarms ~2.5% of windows (one side of a 95%
    # interval): fine for one window, not for hundreds; that is what the CUSUM test is for.
    rng = np.random.default_rng(24)
    correct = rng.binomial(1000, 0.89, 20_000)
    _, upper = wilson_interval(correct, 1000)
    rate = float(np.mean(upper < 0.89))
    assert 0.015 <= rate <= 0.035, rate


def test_cusum_false_alarm_rate_over_200_windows_at_the_threshold_is_measured() -> None:
    # Worst case for false alarms: performance sits exactly at the threshold in every window,
    # so each window's standardised deficit is N(0, 1). 1,000 streams of 200 windows.
    z = np.random.default_rng(22).standard_normal((1000, 200))
    rate = float(np.mean(cusum_statistics(z, 0.5).max(axis=1) > 8.0))
    assert rate <= 0.05, rate  # measured ~1%: documented in CusumDecayTest


def test_cusum_class_follows_the_vectorised_path() -> None:
    rng = np.random.default_rng(23)
    values = 0.9 + rng.normal(0, 0.01, 50) - 0.005
    test = CusumDecayTest("accuracy", 0.9)
    path = []
    for v in values:
        path.append(
            test.update(
                MetricEstimate("accuracy", v, v - 0.0196, v + 0.0196, 1, "normal")
            ).statistic_
        )
    expected = cusum_statistics(((0.9 - values) / 0.01)[None, :], 0.5)[0]
    assert np.allclose(path, expected, atol=1e-3)


def test_cusum_state_round_trips_and_undefined_windows_do_not_reset_it() -> None:
    test = CusumDecayTest("precision", 0.8)
    for _ in range(3):
        test.update(MetricEstimate("precision", 0.79, 0.77, 0.81, 900, "wilson"))
    before = test.statistic_
    assert 1.0 < before < 2.0
    nan = float("nan")
    test.update(MetricEstimate("precision", nan, nan, nan, 0, "wilson"))
    assert test.statistic_ == before
    assert "window 4 has no precision estimate" in test.reason_
    loaded = CusumDecayTest.from_dict(json.loads(json.dumps(test.to_dict())))
    assert loaded.to_dict() == test.to_dict()
    assert loaded.update(MetricEstimate("precision", 0.7, 0.68, 0.72, 900, "wilson")).decayed_
