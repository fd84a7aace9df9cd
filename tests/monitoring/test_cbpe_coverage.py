"""Binary CBPE: how often the ROC AUC and accuracy intervals hold the realized metric.

A calibrated world (scores ~ Beta(2, 2), labels ~ Bernoulli(score)). Coverage is measured over
reference fits and windows together: a fresh labelled reference for every window (the interval
carries the calibration's error, which is fixed for one reference, so one reference's coverage
is not the interval's). The test runs 150 windows per calibration; the 1,000-run figures per
seed quoted in docs/monitoring.md come from ``bench/cbpe_coverage.py`` (tens of minutes: a
benchmark, not a test).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from sklearn import metrics

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cbpe_coverage.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cbpe_coverage_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()
calibrated, realized_metrics, coverage = bench.calibrated, bench.realized_metrics, bench.coverage
realized_label_sets = bench.realized_label_sets


def test_realized_metrics_are_sklearn_metrics() -> None:
    y, s = calibrated(500, np.random.default_rng(0))
    ours, pred = realized_metrics(y.astype(bool), s), s >= 0.5
    assert ours["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert ours["precision"] == pytest.approx(metrics.precision_score(y, pred))
    assert ours["recall"] == pytest.approx(metrics.recall_score(y, pred))
    assert ours["f1"] == pytest.approx(metrics.f1_score(y, pred))
    assert ours["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, s))


def test_realized_label_sets_are_realized_metrics_row_by_row() -> None:
    rng = np.random.default_rng(1)
    _, s = calibrated(300, rng)
    labels = rng.random((5, 300)) < s
    many = realized_label_sets(labels, s)
    for row in range(5):
        for name, value in realized_metrics(labels[row], s).items():
            assert many[name][row] == pytest.approx(value), (name, row)


def test_conditional_coverage_leaves_the_runs_and_the_single_draw_figure_unchanged() -> None:
    plain = coverage(4, 20, 500, 300)
    both = coverage(4, 20, 500, 300, label_sets=50)
    assert {k: v for k, v in both.items() if not k.startswith("conditional_")} == plain
    assert all(0.0 <= both[f"conditional_{name}"] <= 1.0 for name in plain)


@pytest.mark.parametrize("calibration", ["isotonic", "platt"])
def test_cbpe_intervals_cover_about_95_percent(calibration: str) -> None:
    shares = coverage(3, 150, 1000, 300, calibration, label_sets=100)
    for name, share in shares.items():  # 150 runs: a binomial sd of 1.8 points at most
        assert 0.89 <= share <= 0.995, (name, share)
