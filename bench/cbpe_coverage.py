"""Binary CBPE: how often its 95% intervals hold the window's realized metric, over 1,000 runs.

A calibrated world (scores ~ Beta(2, 2), labels ~ Bernoulli(score)). Coverage is measured over
reference fits and windows together: a fresh labelled reference for every window (the interval
carries the calibration's error, which is fixed for one reference, so one reference's coverage
is not the interval's). One seed of 1,000 runs has a binomial sd of 0.7 points.

Figures: per (reference rows, window rows, seed), the share of runs whose interval holds the
realized accuracy, precision, recall, F1 and ROC AUC (the single draw), the same averaged over
200 fresh label sets per window (``conditional_``: the same expectation without most of the
window-label luck) and the single-draw share of an oracle interval that knows the true
calibration (``oracle_``: the seed's luck alone), and each ROC AUC share's ratio against the
nominal 0.95. ``RESULT`` keys: ``roc_auc_coverage_<ref>_<win>_s<seed>`` (and the same for
accuracy), each also prefixed ``conditional_`` and ``oracle_``; ``roc_auc_coverage_min``,
``roc_auc_coverage_mean`` and their ``conditional_`` / ``oracle_`` twins.

Run: ``.venv/bin/python bench/cbpe_coverage.py [RUNS [REFERENCE WINDOW SEED]]`` (1,000 runs
by default, every configuration unless one is named; 2-4 minutes per 500- or 3,000-row
configuration on a shared 2-core machine). ``tests/monitoring/test_cbpe_coverage.py``
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

LABEL_SETS = 200
"""Fresh label draws per window for the conditional (Rao-Blackwellised) coverage."""


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


def realized_label_sets(labels: np.ndarray, s: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`realized_metrics` of each row of ``labels`` (label sets for the window ``s``)."""
    pred = s >= 0.5
    tp, positives = labels[:, pred].sum(axis=1), labels.sum(axis=1)
    fp, fn = pred.sum() - tp, positives - tp
    negatives = s.size - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "accuracy": (s.size - fp - fn) / s.size,
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
            "roc_auc": (labels @ stats.rankdata(s) - positives * (positives + 1) / 2)
            / (positives * negatives),
        }


def coverage(
    seed: int,
    runs: int,
    reference: int,
    window: int,
    calibration: str = "isotonic",
    label_sets: int = 0,
) -> dict[str, float]:
    """Share of runs whose interval holds the window's realized metric; with ``label_sets``,
    also ``conditional_<metric>``: the mean over runs of the share of ``label_sets`` fresh
    label draws for the same window (labels ~ Bernoulli(score)) whose realized metric the
    interval holds. Both estimate the same coverage (the interval is label-free, so the
    second averages the first's indicator over the window's labels: Rao-Blackwellised), the
    second without most of the window-label luck, which dominates one seed's 0.7-point sd.
    Extra draws come from their own stream: the runs, and the first figure, are unchanged."""
    rng = np.random.default_rng(seed)
    extra = np.random.default_rng([seed, 1])
    hits = dict.fromkeys(METRICS, 0.0)
    shares = dict.fromkeys(METRICS, 0.0)
    for _ in range(runs):
        y_ref, s_ref = calibrated(reference, rng)
        estimator = ConfidenceBasedEstimator(calibration, seed=seed).fit(y_ref, s_ref)
        y, s = calibrated(window, rng)
        estimate = estimator.estimate(s)
        realized = realized_metrics(y.astype(bool), s)
        for name in METRICS:
            hits[name] += estimate[name].lower <= realized[name] <= estimate[name].upper
        if label_sets:
            many = realized_label_sets(extra.random((label_sets, window)) < s, s)
            for name in METRICS:
                inside = (estimate[name].lower <= many[name]) & (many[name] <= estimate[name].upper)
                shares[name] += float(np.mean(inside))
    out = {name: count / runs for name, count in hits.items()}
    if label_sets:
        out |= {f"conditional_{name}": total / runs for name, total in shares.items()}
    return out


def oracle_coverage(seed: int, runs: int, reference: int, window: int) -> dict[str, float]:
    """The single-draw coverage, on the same windows as :func:`coverage` (its stream replayed,
    no fit), of the interval an estimator knowing the true calibration would give: the central
    95% (Weibull order statistics) of 1,000 realized metrics of labels ~ Bernoulli(score). Its
    expectation is 95%; its shortfall on one seed is that seed's window-label luck, which every
    estimator's single-draw figure shares."""
    rng = np.random.default_rng(seed)
    extra = np.random.default_rng([seed, 2])
    hits = dict.fromkeys(METRICS, 0)
    for _ in range(runs):
        calibrated(reference, rng)
        y, s = calibrated(window, rng)
        realized = realized_metrics(y.astype(bool), s)
        many = realized_label_sets(extra.random((1000, window)) < s, s)
        for name in METRICS:
            finite = many[name][np.isfinite(many[name])]
            lower, upper = np.quantile(finite, [0.025, 0.975], method="weibull")
            hits[name] += lower <= realized[name] <= upper
    return {f"oracle_{name}": count / runs for name, count in hits.items()}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    only = tuple(int(a) for a in sys.argv[2:5])  # REFERENCE WINDOW SEED: one configuration
    configs = [(only[0], only[1], (only[2],))] if len(only) == 3 else CONFIGS
    result: dict[str, float] = {}
    for reference, window, seeds in configs:
        for seed in seeds:
            t = time.monotonic()
            shares = coverage(seed, runs, reference, window, label_sets=LABEL_SETS)
            shares |= oracle_coverage(seed, runs, reference, window)
            auc = shares["roc_auc"]
            print(
                f"reference {reference:>6}, window {window:>5}, seed {seed}, {runs} runs: "
                + ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
                + f"; ROC AUC / nominal {auc / NOMINAL:.3f} ({time.monotonic() - t:.0f} s)",
                flush=True,
            )
            for name in ("roc_auc", "accuracy"):
                key = f"coverage_{reference}_{window}_s{seed}"
                result[f"{name}_{key}"] = round(shares[name], 4)
                for kind in ("conditional", "oracle"):
                    result[f"{kind}_{name}_{key}"] = round(shares[f"{kind}_{name}"], 4)
    for prefix in ("roc_auc", "conditional_roc_auc", "oracle_roc_auc"):
        values = [v for k, v in result.items() if k.startswith(prefix + "_coverage_")]
        result[f"{prefix}_coverage_min"] = min(values)
        result[f"{prefix}_coverage_mean"] = round(float(np.mean(values)), 4)
    result["runs"] = runs
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
