"""Golden error rates of the per-task decisions (a small, seeded run of bench/task_decisions.py).

The bench measures, per task, the false-alarm rate of prediction drift under no change, its
power under a known shift, and the share of windows declared decayed when the model sits exactly
at the threshold (estimated, realized and reviewed/Hajek) or well inside it. This test runs the
same simulation, seeded and scaled down, and asserts each rate (pooled over the window sizes)
stays within a band of the figure measured at this seed: a change that loosens an interval,
breaks the multiple-testing correction or drops the design weights moves a rate out of its band.
The full figures are in docs/monitoring.md ("Decisions per task: measured error rates").
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
from threadpoolctl import threadpool_limits

BENCH = Path(__file__).resolve().parents[2] / "bench" / "task_decisions.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("task_decisions_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


bench = _bench()

RUN = {"references": 5, "windows": 4, "realized_windows": 150, "population_rows": 200_000}
"""Scaled down from the bench's 50 x 4 and 1,000 (each task takes a few seconds)."""

# measured with RUN and seed 7; pooled over windows of 100, 270 and 2,000 rows
GOLDEN: dict[str, dict[str, float]] = {
    "binary": {
        "prediction_drift_false_alarm": 0.0167,
        "prediction_drift_power": 0.8833,
        "estimated_false_decay": 0.0,
        "estimated_decay_inside": 0.0,
        "realized_false_decay": 0.0378,
        "realized_decay_inside": 0.0,
        "weighted_false_decay": 0.0156,
        "weighted_decay_inside": 0.0,
        "reviewed_unweighted_false_decay": 0.7467,
    },
    "multiclass": {
        "prediction_drift_false_alarm": 0.0,
        "prediction_drift_power": 1.0,
        "estimated_false_decay": 0.0,
        "estimated_decay_inside": 0.0,
        "realized_false_decay": 0.0156,
        "realized_decay_inside": 0.0,
        "weighted_false_decay": 0.02,
        "weighted_decay_inside": 0.0,
        "reviewed_unweighted_false_decay": 0.2733,
    },
    "regression": {
        "prediction_drift_false_alarm": 0.0,
        "prediction_drift_power": 0.7333,
        "estimated_false_decay": 0.0,
        "estimated_decay_inside": 0.0,
        "realized_false_decay": 0.0133,
        "realized_decay_inside": 0.0,
        "weighted_false_decay": 0.02,
        "weighted_decay_inside": 0.0,
        "reviewed_unweighted_false_decay": 0.9711,
    },
}

FALSE_DECISIONS = (
    "prediction_drift_false_alarm",
    "estimated_false_decay",
    "realized_false_decay",
    "weighted_false_decay",
)


def _band(golden: float, runs: int) -> float:
    """Three binomial standard errors (at least at a 1% rate), at least 0.01."""
    p = min(max(golden, 0.01), 0.99)
    return max(0.01, 3 * math.sqrt(p * (1 - p) / runs))


@pytest.fixture(scope="module", params=sorted(GOLDEN))
def figures(request: pytest.FixtureRequest) -> object:
    with threadpool_limits(1):  # extra BLAS / OpenMP threads spin on shared cores
        return bench.measure_task(bench.WORLDS[request.param](), seed=7, **RUN)


def test_rates_stay_within_their_golden_band(figures: object) -> None:
    name = figures.world.name  # type: ignore[attr-defined]
    tally = figures.tally  # type: ignore[attr-defined]
    measured = {e: tally.pooled(e) for e in tally.experiments()}
    assert set(measured) == set(GOLDEN[name]), measured
    off = {
        e: (round(rate, 4), GOLDEN[name][e])
        for e, (rate, runs) in measured.items()
        if abs(rate - GOLDEN[name][e]) > _band(GOLDEN[name][e], runs)
    }
    assert not off, f"{name}: (measured, golden) out of band: {off}"


def test_false_decisions_stay_near_their_nominal_level(figures: object) -> None:
    tally = figures.tally  # type: ignore[attr-defined]
    for experiment in FALSE_DECISIONS:
        rate, runs = tally.pooled(experiment)
        nominal = bench.NOMINAL[experiment]
        assert rate <= nominal + _band(nominal, runs), (experiment, rate)
    # the design weights matter: the plain mean of an uncertainty-sampled review is far off
    assert tally.pooled("reviewed_unweighted_false_decay")[0] > 0.2


def test_prediction_drift_has_power_against_a_half_sd_shift(figures: object) -> None:
    tally = figures.tally  # type: ignore[attr-defined]
    assert tally.rate("prediction_drift_power", 2_000) == 1.0
    assert tally.pooled("prediction_drift_power")[0] > 0.6


def test_each_task_tests_its_output_series(figures: object) -> None:
    # binary: class shares + positive score; multiclass: class shares, top score, 4 class
    # probabilities; regression: the predicted value
    expected = {"binary": 2, "multiclass": 6, "regression": 1}
    assert figures.series == expected[figures.world.name]  # type: ignore[attr-defined]
