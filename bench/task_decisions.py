"""Measured false-decision rates of the per-task decisions (binary, multiclass, regression).

Every automatic decision of the monitor run is simulated here through the public API
(``decayguard.monitoring``: ``task_for``, ``ModelTask.fit_prediction_profile`` /
``detect_prediction_drift`` / ``fit_estimator`` / ``estimate`` / ``realized`` and
``PerformanceThresholdRule``), with the project's defaults (alpha 0.05, Benjamini-Hochberg and
the effect-size gate; 95% intervals) and the demo's sizes: a labelled reference of 1,750 rows,
windows of 100, 270 and 2,000 rows.

Worlds (features ``x1``, ``x2`` ~ N(0, 1) and ``kind`` in {calm 70%, wild 30%}):

* binary: labels ~ Bernoulli(sigmoid(t)), t = 1.5 x1 + 0.8 x2 - 0.5; the model's score is the
  miscalibrated sigmoid(1.2 t + 0.3) (CBPE's isotonic calibration has work to do);
* multiclass (classes A-D): true class probabilities softmax(1.4 x1, -1.4 x1, 1.2 x2,
  0.4 - 0.3 x2 + 0.5 wild); the model says softmax(0.75 * those logits + (0, 0, 0, 0.3));
* regression: y = 2 x1 + x2 + wild + noise, noise sd (0.4 + 0.3 |x1|) x (2.5 if wild); the model
  predicts 1.9 x1 + x2 + 0.8 wild (DLE learns a heteroscedastic, biased error).

The model's true (population) accuracy or MAE is the mean of each row's expected correctness
or expected absolute error over 2,000,000 rows (no label noise in it). Experiments:

* prediction drift, no change: share of windows with ``detect_prediction_drift(...).drifted``
  (per-window false-alarm rate; nominal: alpha); power: the same with ``x1`` shifted by
  +0.5 sd in the window (the scores and predictions move with it);
* estimated decay (CBPE; DLE for regression): threshold = the true accuracy (or MAE), i.e. the
  model sits exactly at it, the worst case for a false "decayed"; share of windows declared
  decayed (nominal: (1 - confidence) / 2 = 0.025); and with the threshold well inside
  (accuracy 0.05 below, MAE 20% above the truth). Each reference is drawn anew and the
  estimator refitted on it, so the reference's own noise is part of the figure;
* realized decay (Wilson accuracy; normal-interval MAE), the same two thresholds;
* reviewed (weighted) decay: a review sample drawn with unequal inclusion probabilities
  (classifiers: uncertainty sampling, pi from 0.05 to 0.5 as the top score falls; regression:
  wild rows 0.5, calm rows 0.1), the window sized so that about n rows are reviewed; Hajek
  estimates with weights 1/pi, at the threshold. The unweighted mean of the same reviewed rows
  is shown beside it.

Ends with one ``RESULT {json}`` line. Unsuffixed keys (``binary_estimated_false_decay``) are the
worst rate over the three window sizes; ``_<n>`` keys give each size.

Run: ``.venv/bin/python bench/task_decisions.py`` (about 2 minutes, ~120 s CPU, on the shared
2-core machine; pass ``--references``, ``--windows``, ``--realized-windows`` and ``--sizes`` to
scale it: ``--sizes 2000 --references 200 --windows 1`` counts the 2,000-row estimated decisions
over 200 independent references).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats
from threadpoolctl import threadpool_limits

from decayguard.monitoring import (
    DriftDecisionRule,
    MetricEstimate,
    ModelOutputs,
    ModelTask,
    PerformanceThresholdRule,
    task_for,
)

REFERENCE_ROWS = 1_750
WINDOW_SIZES = (100, 270, 2_000)
ALPHA, CONFIDENCE = 0.05, 0.95
NOMINAL_FALSE_DECAY = (1 - CONFIDENCE) / 2
DRIFT_SHIFT = 0.5
"""The known output shift for the power figures: ``x1`` moves by this many sd."""
POPULATION_ROWS = 2_000_000

Floats = NDArray[np.float64]


def _sigmoid(t: Floats) -> Floats:
    return np.asarray(1.0 / (1.0 + np.exp(-t)), dtype=np.float64)


def _softmax(logits: Floats) -> Floats:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


Columns = dict[str, NDArray[np.generic]]


@dataclass(frozen=True)
class Sample:
    """Rows of one world: features, the model's outputs, labels and inclusion probabilities."""

    columns: Columns
    outputs: ModelOutputs
    truth: NDArray[np.object_] | Floats
    inclusion: Floats

    @property
    def features(self) -> pd.DataFrame:
        """The features as the estimators take them (built on demand: most draws never are)."""
        return pd.DataFrame(self.columns)

    def take(self, rows: NDArray[np.bool_]) -> Sample:
        return Sample(
            {k: v[rows] for k, v in self.columns.items()},
            self.outputs.take(rows),
            self.truth[rows],
            self.inclusion[rows],
        )


class World(ABC):
    """One task's data-generating process and model."""

    name: str
    metric: str
    inside_margin: float
    """How far the "well inside" threshold sits from the truth (metric units, or a ratio)."""

    def __init__(self) -> None:
        self.task = self.make_task()

    @abstractmethod
    def make_task(self) -> ModelTask: ...

    @abstractmethod
    def _model(
        self, frame: Columns, rng: np.random.Generator, labels: bool
    ) -> tuple[ModelOutputs, NDArray[np.object_] | Floats, Floats, Floats]:
        """Outputs, labels (empty when ``labels`` is False), each row's expected metric term
        (expected correctness or expected absolute error) and inclusion probability."""

    @staticmethod
    def features(rng: np.random.Generator, n: int, shift: float = 0.0) -> Columns:
        return {
            "x1": rng.normal(shift, 1.0, n),
            "x2": rng.normal(0.0, 1.0, n),
            "kind": np.where(rng.random(n) < 0.3, "wild", "calm").astype(object),
        }

    def draw(self, rng: np.random.Generator, n: int, shift: float = 0.0) -> Sample:
        frame = self.features(rng, n, shift)
        outputs, truth, _, inclusion = self._model(frame, rng, labels=True)
        return Sample(frame, outputs, truth, inclusion)

    def population(self, rng: np.random.Generator, rows: int) -> tuple[float, float]:
        """The true metric value and the mean inclusion probability (means over ``rows``)."""
        frame = self.features(rng, rows)
        _, _, expected, inclusion = self._model(frame, rng, labels=False)
        return float(expected.mean()), float(inclusion.mean())

    def higher_is_better(self) -> bool:
        return self.task.higher_is_better(self.metric)

    def inside_threshold(self, truth: float) -> float:
        return truth - self.inside_margin


class BinaryWorld(World):
    name, metric, inside_margin = "binary", "accuracy", 0.05

    def make_task(self) -> ModelTask:
        return task_for("binary", classes=("0", "1"), positive_class="1")

    def _model(
        self, frame: Columns, rng: np.random.Generator, labels: bool
    ) -> tuple[ModelOutputs, NDArray[np.object_] | Floats, Floats, Floats]:
        t = 1.5 * frame["x1"] + 0.8 * frame["x2"] - 0.5
        p_true, score = _sigmoid(t), _sigmoid(1.2 * t + 0.3)
        outputs = self.task.outputs_from_scores(score)
        positive = outputs.predictions == "1"
        expected = np.where(positive, p_true, 1.0 - p_true)
        truth = np.where(rng.random(t.size) < p_true, "1", "0").astype(object) if labels else None
        inclusion = 0.05 + 0.45 * (1.0 - np.abs(2.0 * score - 1.0))
        return outputs, _or_empty(truth), expected, inclusion


class MulticlassWorld(World):
    name, metric, inside_margin = "multiclass", "accuracy", 0.05
    classes = ("A", "B", "C", "D")

    def make_task(self) -> ModelTask:
        return task_for("multiclass", classes=self.classes)

    def _model(
        self, frame: Columns, rng: np.random.Generator, labels: bool
    ) -> tuple[ModelOutputs, NDArray[np.object_] | Floats, Floats, Floats]:
        x1, x2 = frame["x1"], frame["x2"]
        wild = frame["kind"] == "wild"
        logits = np.column_stack([1.4 * x1, -1.4 * x1, 1.2 * x2, 0.4 - 0.3 * x2 + 0.5 * wild])
        p_true = _softmax(logits)
        scores = _softmax(0.75 * logits + np.array([0.0, 0.0, 0.0, 0.3]))
        outputs = self.task.outputs_from_scores(scores)
        predicted = scores.argmax(axis=1)
        expected = p_true[np.arange(predicted.size), predicted]
        truth = None
        if labels:
            drawn = (p_true.cumsum(axis=1) < rng.random((predicted.size, 1))).sum(axis=1)
            truth = np.asarray(self.classes, dtype=object)[np.minimum(drawn, 3)]
        k = len(self.classes)
        inclusion = 0.05 + 0.45 * (1.0 - scores.max(axis=1)) / (1.0 - 1.0 / k)
        return outputs, _or_empty(truth), expected, inclusion


class RegressionWorld(World):
    name, metric, inside_margin = "regression", "mae", 0.2

    def make_task(self) -> ModelTask:
        return task_for("regression")

    def inside_threshold(self, truth: float) -> float:
        return truth * (1.0 + self.inside_margin)

    def _model(
        self, frame: Columns, rng: np.random.Generator, labels: bool
    ) -> tuple[ModelOutputs, NDArray[np.object_] | Floats, Floats, Floats]:
        x1, x2 = frame["x1"], frame["x2"]
        wild = frame["kind"] == "wild"
        mean = 2.0 * x1 + x2 + wild
        sd = (0.4 + 0.3 * np.abs(x1)) * np.where(wild, 2.5, 1.0)
        prediction = 1.9 * x1 + x2 + 0.8 * wild
        outputs = self.task.outputs_from_scores(prediction)
        bias = prediction - mean  # error = bias - noise, noise ~ N(0, sd)
        expected = _folded_normal_mean(bias, sd)
        truth = mean + rng.normal(0.0, sd) if labels else None
        inclusion = np.where(wild, 0.5, 0.1)
        return outputs, _or_empty(truth), expected, inclusion


def _or_empty(values: NDArray[np.object_] | Floats | None) -> NDArray[np.object_] | Floats:
    return np.empty(0) if values is None else values


def _folded_normal_mean(mu: Floats, sd: Floats) -> Floats:
    """E|Z| for Z ~ N(mu, sd^2)."""
    z = mu / sd
    return np.asarray(
        sd * math.sqrt(2 / math.pi) * np.exp(-(z**2) / 2) + mu * (1 - 2 * stats.norm.cdf(-z)),
        dtype=np.float64,
    )


WORLDS: dict[str, type[World]] = {
    w.name: w for w in (BinaryWorld, MulticlassWorld, RegressionWorld)
}
"""The simulated worlds by task name."""


@dataclass
class Tally:
    """Decisions counted per experiment and window size."""

    hits: dict[tuple[str, int], int] = field(default_factory=dict)
    runs: dict[tuple[str, int], int] = field(default_factory=dict)

    def add(self, experiment: str, n: int, decided: bool) -> None:
        key = (experiment, n)
        self.hits[key] = self.hits.get(key, 0) + int(decided)
        self.runs[key] = self.runs.get(key, 0) + 1

    def rate(self, experiment: str, n: int) -> float:
        return self.hits[(experiment, n)] / self.runs[(experiment, n)]

    def pooled(self, experiment: str) -> tuple[float, int]:
        """The rate over every window size, and the number of windows behind it."""
        keys = [k for k in self.runs if k[0] == experiment]
        runs = sum(self.runs[k] for k in keys)
        return sum(self.hits[k] for k in keys) / runs, runs

    def experiments(self) -> Iterator[str]:
        yield from dict.fromkeys(e for e, _ in self.runs)


@dataclass
class TaskFigures:
    """Everything measured for one task."""

    world: World
    truth: float
    series: int
    tally: Tally
    references: int
    windows: int
    realized_windows: int
    sizes: tuple[int, ...]


def _rng(seed: int, world: World, experiment: int) -> np.random.Generator:
    return np.random.default_rng([seed, list(WORLDS).index(world.name), experiment])


def measure_task(
    world: World,
    *,
    sizes: Sequence[int] = WINDOW_SIZES,
    references: int = 50,
    windows: int = 4,
    realized_windows: int = 1_000,
    seed: int = 0,
    population_rows: int = POPULATION_ROWS,
) -> TaskFigures:
    """All experiments for one world. ``references`` labelled references (profile and
    estimator refitted on each) x ``windows`` windows per size for the drift and estimated
    decisions; ``realized_windows`` windows per size for the realized decisions."""
    truth, mean_inclusion = world.population(_rng(seed, world, 0), population_rows)
    rule = DriftDecisionRule(alpha=ALPHA)
    at = PerformanceThresholdRule(world.metric, truth, world.higher_is_better())
    inside = PerformanceThresholdRule(
        world.metric, world.inside_threshold(truth), world.higher_is_better()
    )
    task, tally, series = world.task, Tally(), 0
    rng = _rng(seed, world, 1)
    for _ in range(references):
        reference = world.draw(rng, REFERENCE_ROWS)
        profile = task.fit_prediction_profile(reference.outputs)
        estimator = task.fit_estimator(
            reference.features, reference.truth, reference.outputs, confidence=CONFIDENCE
        )
        for n in sizes:
            for _ in range(windows):
                window = world.draw(rng, n)
                report = task.detect_prediction_drift(profile, window.outputs, rule=rule)
                series = len(report.features)
                tally.add("prediction_drift_false_alarm", n, report.drifted)
                shifted = world.draw(rng, n, shift=DRIFT_SHIFT)
                moved = task.detect_prediction_drift(profile, shifted.outputs, rule=rule)
                tally.add("prediction_drift_power", n, moved.drifted)
                estimate = task.estimate(estimator, window.features, window.outputs)[world.metric]
                tally.add("estimated_false_decay", n, at.decide(estimate).decayed)
                tally.add("estimated_decay_inside", n, inside.decide(estimate).decayed)
    rng = _rng(seed, world, 2)
    for n in sizes:
        for _ in range(realized_windows):
            window = world.draw(rng, n)
            realized = _realized(task, window, None, world.metric)
            tally.add("realized_false_decay", n, at.decide(realized).decayed)
            tally.add("realized_decay_inside", n, inside.decide(realized).decayed)
    rng = _rng(seed, world, 3)
    for n in sizes:
        rows = round(n / mean_inclusion)
        for _ in range(realized_windows):
            window = world.draw(rng, rows)
            reviewed = window.take(rng.random(rows) < window.inclusion)
            weighted = _realized(task, reviewed, 1.0 / reviewed.inclusion, world.metric)
            tally.add("weighted_false_decay", n, at.decide(weighted).decayed)
            tally.add("weighted_decay_inside", n, inside.decide(weighted).decayed)
            naive = _realized(task, reviewed, None, world.metric)
            tally.add("reviewed_unweighted_false_decay", n, at.decide(naive).decayed)
    return TaskFigures(
        world, truth, series, tally, references, windows, realized_windows, tuple(sizes)
    )


def _realized(
    task: ModelTask, sample: Sample, weights: Floats | None, metric: str
) -> MetricEstimate:
    # the decisions read accuracy or MAE only: classifier outputs go without probabilities,
    # which skips the (weighted: bootstrapped) ROC AUC and the log loss
    outputs = ModelOutputs(sample.outputs.predictions, None, sample.outputs.classes)
    return task.realized(sample.truth, outputs, weights=weights, confidence=CONFIDENCE)[metric]


NOMINAL = {
    "prediction_drift_false_alarm": ALPHA,
    "estimated_false_decay": NOMINAL_FALSE_DECAY,
    "realized_false_decay": NOMINAL_FALSE_DECAY,
    "weighted_false_decay": NOMINAL_FALSE_DECAY,
    "reviewed_unweighted_false_decay": NOMINAL_FALSE_DECAY,
}


def result_keys(figures: TaskFigures) -> dict[str, float]:
    """``<task>_<experiment>_<n>`` per size and ``<task>_<experiment>`` (worst over sizes)."""
    out: dict[str, float] = {}
    name, tally, sizes = figures.world.name, figures.tally, figures.sizes
    for experiment in tally.experiments():
        rates = [tally.rate(experiment, n) for n in sizes]
        worst = min(rates) if experiment.endswith("_power") else max(rates)
        out[f"{name}_{experiment}"] = round(worst, 4)
        for n, rate in zip(sizes, rates, strict=True):
            out[f"{name}_{experiment}_{n}"] = round(rate, 4)
    out[f"{name}_true_{figures.world.metric}"] = round(figures.truth, 4)
    out[f"{name}_drift_series"] = figures.series
    return out


def print_table(figures: TaskFigures) -> None:
    world, tally, sizes = figures.world, figures.tally, figures.sizes
    print(
        f"\n{world.name}: true {world.metric} {figures.truth:.4f}; prediction drift tests "
        f"{figures.series} series; {figures.references} references x {figures.windows} "
        f"windows per size (drift, estimated), {figures.realized_windows} windows per size "
        "(realized, weighted)"
    )
    print(f"  {'decision':34s}" + "".join(f"{f'n={n}':>10s}" for n in sizes) + "   nominal")
    for experiment in tally.experiments():
        nominal = NOMINAL.get(experiment)
        cells = "".join(f"{tally.rate(experiment, n):10.3f}" for n in sizes)
        print(f"  {experiment:34s}{cells}   {'' if nominal is None else f'{nominal:.3f}'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=50)
    parser.add_argument("--windows", type=int, default=4, help="per reference and size")
    parser.add_argument("--realized-windows", type=int, default=1_000, help="per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(WINDOW_SIZES))
    parser.add_argument("--tasks", nargs="*", default=list(WORLDS))
    args = parser.parse_args()
    start, cpu = time.perf_counter(), time.process_time()
    result: dict[str, object] = {
        "references": args.references,
        "windows_per_reference": args.windows,
        "realized_windows": args.realized_windows,
        "reference_rows": REFERENCE_ROWS,
        "window_sizes": args.sizes,
        "alpha": ALPHA,
        "nominal_false_decay": NOMINAL_FALSE_DECAY,
    }
    print(f"cpus={os.cpu_count()} load={os.getloadavg()} seed={args.seed}")
    # one BLAS / OpenMP thread: on shared cores extra threads spin (CBPE's bootstrap multiplies
    # label matrices); the figures do not change
    with threadpool_limits(1):
        for name in args.tasks:
            task_cpu = time.process_time()
            figures = measure_task(
                WORLDS[name](),
                sizes=args.sizes,
                references=args.references,
                windows=args.windows,
                realized_windows=args.realized_windows,
                seed=args.seed,
            )
            print_table(figures)
            print(f"  ({time.process_time() - task_cpu:.1f} s CPU)")
            result.update(result_keys(figures))
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["cpu_seconds"] = round(time.process_time() - cpu, 1)
    print(f"\n{result['seconds']} s wall, {result['cpu_seconds']} s CPU")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
