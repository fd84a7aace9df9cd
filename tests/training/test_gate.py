"""The champion/challenger gate: decisions on simulated paired predictions, and its measured
false-promotion rate (the full figures are in ``bench/gate.py``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from scipy import stats

from decayguard.config import GateConfig
from decayguard.monitoring.task_base import ModelOutputs
from decayguard.monitoring.tasks import task_for
from decayguard.training.gate import ChampionChallengerGate, GateDecision, PairedSample

BINARY = task_for("binary", classes=["0", "1"])


def paired_binary(
    n: int,
    accuracy: tuple[float, float],
    rng: np.random.Generator,
    *,
    rho: float = 0.7,
    overconfident_challenger: bool = False,
) -> tuple[NDArray[np.object_], ModelOutputs, ModelOutputs]:
    """Two classifiers whose errors share a latent difficulty ``u``: model ``m`` is right when
    ``rho u + sqrt(1 - rho²) e_m < Φ⁻¹(accuracy_m)``; its top probability is ``P(right | u)``
    (calibrated, but floored just above 1/2 so that it names the predicted class), so the
    true accuracies are exactly ``accuracy``."""
    u = rng.standard_normal(n)
    y = rng.random(n) < 0.4
    spread = np.sqrt(1 - rho**2)
    outputs = []
    for j, acc in enumerate(accuracy):
        a = stats.norm.ppf(acc)
        right = rho * u + spread * rng.standard_normal(n) < a
        top = np.clip(stats.norm.cdf((a - rho * u) / spread), 0.5 + 1e-6, 1 - 1e-9)
        if overconfident_challenger and j == 1:
            top = np.full(n, 0.995)
        predicted = np.where(right, y, ~y)
        outputs.append(BINARY.outputs_from_scores(np.where(predicted, top, 1 - top)))
    return np.where(y, "1", "0").astype(object), outputs[0], outputs[1]


def sample_of(
    labels: NDArray[np.object_],
    champion: ModelOutputs,
    challenger: ModelOutputs,
    slices: pd.DataFrame | None = None,
) -> PairedSample:
    n = len(labels)
    frame = slices if slices is not None else pd.DataFrame(index=range(n))
    return PairedSample(BINARY, labels, champion, challenger, frame, np.full(n, "holdout"))


def test_passes_a_clearly_better_challenger() -> None:
    labels, c, h = paired_binary(1500, (0.80, 0.88), np.random.default_rng(1))
    decision = ChampionChallengerGate(metric="accuracy").decide(sample_of(labels, c, h))
    assert decision.passed, decision.reason
    assert decision.reason.startswith("passed: accuracy Δ +0.0")
    assert decision.criterion("check.mcnemar").extra["p_value"] < 1e-6  # type: ignore[index]
    assert {"rows", "metric.accuracy", "calibration.brier", "calibration.ece"} <= {
        c.name for c in decision.criteria
    }


def test_rejects_a_clearly_worse_challenger_naming_the_metric() -> None:
    labels, c, h = paired_binary(1500, (0.85, 0.78), np.random.default_rng(2))
    decision = ChampionChallengerGate(metric="accuracy").decide(sample_of(labels, c, h))
    assert not decision.passed
    assert decision.reason.startswith("failed: metric.accuracy: accuracy Δ -0.0")
    assert "below -0.01" in decision.reason
    primary = decision.criterion("metric.accuracy")
    assert primary.lower is not None
    assert primary.upper is not None
    assert primary.upper < 0
    assert primary.threshold == -0.01


def test_rejects_a_challenger_that_regresses_in_one_big_slice() -> None:
    rng = np.random.default_rng(3)
    north, rest = paired_binary(900, (0.85, 0.70), rng), paired_binary(2100, (0.80, 0.89), rng)
    labels = np.concatenate([north[0], rest[0]])
    c, h = (
        ModelOutputs(
            np.concatenate([north[j].predictions, rest[j].predictions]),
            np.vstack([north[j].probabilities, rest[j].probabilities]),  # type: ignore[list-item]
            north[j].classes,
        )
        for j in (1, 2)
    )
    slices = pd.DataFrame(
        {"region": ["north"] * 900 + list(rng.choice(["east", "south"], 2100)),
         "amount": rng.gamma(2.0, 50.0, 3000)}
    )  # fmt: skip
    gate = ChampionChallengerGate(metric="accuracy", slices=("region", "amount"))
    decision = gate.decide(sample_of(labels, c, h, slices))
    assert decision.criterion("metric.accuracy").passed, decision.reason
    assert not decision.passed
    assert decision.reason.startswith("failed: slice.region=north: accuracy Δ -0.1")
    assert "beyond -0.05 (Holm p" in decision.reason
    assert decision.criterion("slice.region=east").passed
    amounts = [c.name for c in decision.criteria if c.name.startswith("slice.amount=")]
    assert len(amounts) == 4
    assert amounts[0].startswith("slice.amount=[")


def test_small_slices_are_reported_but_do_not_decide() -> None:
    labels, c, h = paired_binary(1000, (0.80, 0.85), np.random.default_rng(4))
    slices = pd.DataFrame({"tier": ["gold"] * 50 + ["basic"] * 950})
    decision = ChampionChallengerGate(metric="accuracy", slices=("tier",)).decide(
        sample_of(labels, c, h, slices)
    )
    gold = decision.criterion("slice.tier=gold")
    assert not gold.decides
    assert gold.n == 50
    assert "reported only" in gold.detail


def test_rejects_worse_calibration() -> None:
    labels, c, h = paired_binary(
        2000, (0.80, 0.80), np.random.default_rng(5), rho=0.99, overconfident_challenger=True
    )
    decision = ChampionChallengerGate(metric="accuracy").decide(sample_of(labels, c, h))
    assert not decision.passed
    failed = [x.name for x in decision.criteria if x.decides and not x.passed]
    assert failed == ["calibration.brier", "calibration.ece"], decision.reason
    assert "calibration.ece: ece Δ +0.1" in decision.reason
    assert "worse by more than +0.02" in decision.reason


def test_fails_closed_on_unusable_rows() -> None:
    gate = ChampionChallengerGate(metric="accuracy")
    empty = BINARY.outputs_from_scores(np.empty((0, 2)))
    decision = gate.decide(sample_of(np.empty(0, dtype=object), empty, empty))
    assert not decision.passed
    assert decision.n_rows == 0
    assert (
        decision.reason == "failed: rows: no usable rows (0 scored by both models); failed closed"
    )
    labels, c, h = paired_binary(100, (0.8, 0.8), np.random.default_rng(6))
    short = gate.decide(sample_of(labels, c, h.take(slice(0, 99))))
    assert "100 labels but 100 champion and 99 challenger outputs" in short.reason
    labels[:3] = "maybe"
    unknown = gate.decide(sample_of(labels, c, h))
    assert "3 labels outside the classes ['0', '1']: ['maybe']" in unknown.reason
    missing = ChampionChallengerGate(metric="accuracy", slices=("region",)).decide(
        sample_of(labels[3:], c.take(slice(3, None)), h.take(slice(3, None)))
    )
    assert "slice column 'region' is not in the sample" in missing.reason


def _regression(
    n: int, bias: float, rng: np.random.Generator
) -> tuple[NDArray[np.float64], ModelOutputs, ModelOutputs]:
    y = rng.normal(100.0, 30.0, n)
    noise = rng.normal(0.0, 10.0, n)
    champion = y + noise
    challenger = y + noise * 0.5 + rng.normal(bias, 5.0, n)
    return y, ModelOutputs(champion), ModelOutputs(challenger)


def test_regression_mae_direction_and_default_margin() -> None:
    task = task_for("regression")
    y, c, h = _regression(1500, 12.0, np.random.default_rng(7))
    sample = PairedSample(task, y, c, h, pd.DataFrame(index=range(1500)), np.full(1500, "gold"))
    worse = ChampionChallengerGate(metric="mae").decide(sample)
    assert not worse.passed
    primary = worse.criterion("metric.mae")
    assert primary.threshold == pytest.approx(0.01 * primary.extra["champion"])  # type: ignore[index]
    assert worse.reason.startswith("failed: metric.mae: mae Δ +")
    assert f"above +{primary.threshold:.3g}" in worse.reason
    assert worse.criterion("check.paired_t").method == "t"
    y, c, h = _regression(1500, 0.0, np.random.default_rng(8))
    better = PairedSample(task, y, c, h, pd.DataFrame(index=range(1500)), np.full(1500, "gold"))
    decision = ChampionChallengerGate(metric="mae", champion_value=8.0).decide(better)
    assert decision.passed
    assert decision.margin == pytest.approx(0.08)
    assert "mae Δ -" in decision.reason
    assert "upper bound below +0.08" in decision.reason
    rmse = ChampionChallengerGate(metric="rmse", margin=0.5).decide(better)
    assert rmse.passed, rmse.reason


def test_decision_round_trips_through_strict_json_and_builds_from_config() -> None:
    cfg = GateConfig(slices=["region"], min_slice_rows=100, n_resamples=500)
    gate = ChampionChallengerGate.from_config(cfg, BINARY, metric="roc_auc")
    assert (gate.metric, gate.slices, gate.n_resamples) == ("roc_auc", ("region",), 500)
    labels, c, h = paired_binary(600, (0.80, 0.82), np.random.default_rng(9))
    slices = pd.DataFrame({"region": np.random.default_rng(0).choice(["a", "b", "c"], 600)})
    decision = gate.decide(sample_of(labels, c, h, slices))
    assert decision.criterion("check.delong").method == "delong"
    text = json.dumps(decision.to_dict(), allow_nan=False)
    assert GateDecision.from_dict(json.loads(text)) == decision
    assert gate.decide(sample_of(labels, c, h, slices)) == decision  # seeded: reproducible


def test_false_promotion_rate_at_the_margin() -> None:
    """150 challengers truly worse by exactly the margin: at most 5 % may pass (the rule's
    nominal rate is 2.5 %), allowing the binomial 99 % quantile of 150 runs."""
    runs, margin, promoted = 150, 0.01, 0
    gate = ChampionChallengerGate(metric="accuracy")
    for run in range(runs):
        labels, c, h = paired_binary(1500, (0.85, 0.85 - margin), np.random.default_rng([11, run]))
        promoted += gate.decide(sample_of(labels, c, h)).passed
    allowance = stats.binom.ppf(0.99, runs, 0.05) / runs
    assert promoted / runs <= allowance


@pytest.mark.parametrize(
    ("task_name", "metric"),
    [("binary", m) for m in ("precision", "recall", "f1", "roc_auc", "log_loss")]
    + [("multiclass", m) for m in ("accuracy", "precision", "f1", "roc_auc", "log_loss")]
    + [("regression", m) for m in ("rmse", "mape")],
)
def test_every_threshold_metric_decides_a_much_better_challenger(
    task_name: str, metric: str
) -> None:
    rng = np.random.default_rng(12)
    n = 1200
    if task_name == "regression":
        task = task_for("regression")
        y, c, h = _regression(n, 0.0, rng)
        labels: NDArray[np.object_] | NDArray[np.float64] = y
    else:
        classes = ["a", "b", "c"] if task_name == "multiclass" else ["0", "1"]
        task = task_for(task_name, classes=classes)
        t = rng.integers(0, len(classes), n)
        onehot = np.eye(len(classes))[t]
        noise = rng.standard_normal((n, len(classes)))
        c, h = (
            task.outputs_from_scores(
                np.exp(s * onehot + noise) / np.exp(s * onehot + noise).sum(1)[:, None]
            )
            for s in (1.0, 3.0)
        )
        labels = np.asarray(classes, dtype=object)[t]
    sample = PairedSample(task, labels, c, h, pd.DataFrame(index=range(n)), np.full(n, "holdout"))
    decision = ChampionChallengerGate(metric=metric, n_resamples=300).decide(sample)
    primary = decision.criterion(f"metric.{metric}")
    assert primary.passed, decision.reason
    assert (primary.delta < 0) == (metric in ("log_loss", "rmse", "mape"))
