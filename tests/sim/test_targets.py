"""The regression and multiclass targets: same world, same onsets, their own models."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error
from sklearn.pipeline import Pipeline

from decayguard.errors import InputValidationError
from decayguard.sim import (
    FEATURE_NAMES,
    RISK_GRADES,
    TARGETS,
    LoanScenario,
    SimulatedValueReviewer,
    Simulation,
    train_grade_model,
    train_loss_model,
)
from decayguard.sim.demo import DemoSettings
from decayguard.sim.demo_tasks import DEMO_TASKS
from decayguard.sim.population import loss_amount_median

TASKS = ("binary", "multiclass", "regression")


def _days(sim: Simulation, first: float, last: float) -> pd.DataFrame:
    return sim.between(sim.scenario.at_day(first), sim.scenario.at_day(last))


@pytest.fixture(scope="module")
def grade_model(simulation: Simulation) -> Pipeline:
    return train_grade_model(simulation.reference_frame())


@pytest.fixture(scope="module")
def loss_model(simulation: Simulation) -> Pipeline:
    return train_loss_model(simulation.reference_frame())


def test_the_task_picks_a_target_and_changes_nothing_else(simulation: Simulation) -> None:
    for task in ("multiclass", "regression"):
        other = replace(simulation.scenario, task=task).simulate()
        pd.testing.assert_frame_equal(other.frame, simulation.frame)
        assert other.target().task == task
    with pytest.raises(ValueError, match="task"):
        LoanScenario(task="ranking")


def test_the_binary_world_is_what_it_was_before_the_new_targets(simulation: Simulation) -> None:
    """The new targets draw from new child streams: the first four are unchanged."""
    scenario = simulation.scenario
    times_ss, _applicants_ss, outcomes_ss, _ = np.random.SeedSequence(scenario.seed).spawn(4)
    times = scenario.draw_event_times(np.random.default_rng(times_ss))
    pd.testing.assert_index_equal(
        pd.DatetimeIndex(simulation.frame["event_timestamp"]), times, check_names=False
    )
    outcome = np.random.default_rng(outcomes_ss).random(len(times)) < simulation.frame["p_default"]
    np.testing.assert_array_equal(simulation.frame["default"].to_numpy(), outcome.astype(int))


def test_labels_and_truth_carry_the_target_text(simulation: Simulation) -> None:
    scenario = simulation.scenario
    t0, t1 = scenario.at_day(9), scenario.at_day(10)
    binary = simulation.labels_due(t0, t1)
    assert set(binary["value"]) == {"0", "1"}
    regression = replace(scenario, task="regression").simulate()
    due = regression.labels_due(t0, t1)
    pd.testing.assert_frame_equal(
        due.drop(columns="value"), binary.drop(columns="value"), check_like=True
    )
    assert due["value"].str.fullmatch(r"\d+\.\d\d").all()
    frame = regression.frame.set_index("request_id")
    np.testing.assert_allclose(
        due["value"].astype(float), frame.loc[due["prediction_id"], "loss_amount"]
    )
    grades = replace(scenario, task="multiclass").simulate()
    assert set(grades.labels_due(t0, t1)["value"]) == set(RISK_GRADES)
    first = grades.frame["request_id"].iloc[0]
    assert grades.true_labels([first]) == [grades.frame["risk_grade"].iloc[0]]


def test_the_targets_have_sane_distributions(simulation: Simulation) -> None:
    history = simulation.reference_frame()
    loss = history["loss_amount"]
    assert (loss > 0).all()
    assert 5_000 < loss.median() < 15_000
    shares = history["risk_grade"].value_counts(normalize=True)
    assert set(shares.index) == set(RISK_GRADES)
    assert shares.min() > 0.15  # four grades of a similar size
    # Riskier grades default more often: the grade comes from the same latent risk.
    default_rate = history.groupby("risk_grade")["default"].mean()
    assert default_rate.is_monotonic_increasing


def test_the_recession_moves_inputs_not_the_loss_relation(simulation: Simulation) -> None:
    rows = _days(simulation, 16, 21)
    # The median loss given the features is the same function before and after the recession.
    same = loss_amount_median(rows, concept=0.0)
    np.testing.assert_allclose(loss_amount_median(rows, concept=np.zeros(len(rows))), same)
    ratio = np.log(rows["loss_amount"] / same)
    assert abs(float(ratio.mean())) < 0.03  # log-normal noise around it, centred
    assert 0.27 < float(ratio.std()) < 0.33


def test_the_regressor_decays_at_the_concept_onset_only(
    simulation: Simulation, loss_model: Pipeline
) -> None:
    def mae(first: float, last: float) -> float:
        rows = _days(simulation, first, last)
        return float(
            mean_absolute_error(rows["loss_amount"], loss_model.predict(rows[list(FEATURE_NAMES)]))
        )

    history = simulation.reference_frame()
    naive = float((history["loss_amount"] - history["loss_amount"].median()).abs().mean())
    stable, recession, shocked = mae(7, 14), mae(16, 21), mae(22, 28)
    assert stable < 0.6 * naive  # the features explain much of the loss
    assert recession < 1.25 * stable  # losses rise a little with the recession: no decay
    assert shocked > 2.0 * recession
    # The figures of docs/simulator.md (seed 7).
    assert 2_700 < stable < 2_750
    assert 3_180 < recession < 3_220
    assert 6_900 < shocked < 7_000


def test_the_grade_classifier_decays_at_the_concept_onset_only(
    simulation: Simulation, grade_model: Pipeline
) -> None:
    def accuracy(first: float, last: float) -> float:
        rows = _days(simulation, first, last)
        predicted = grade_model.predict(rows[list(FEATURE_NAMES)])
        return float(accuracy_score(rows["risk_grade"], predicted))

    stable, recession, shocked = accuracy(7, 14), accuracy(16, 21), accuracy(22, 28)
    assert list(grade_model.classes_) == list(RISK_GRADES)
    assert abs(recession - stable) < 0.05
    # The figures of docs/simulator.md (seed 7).
    assert (round(stable, 3), round(recession, 3), round(shocked, 3)) == (0.800, 0.829, 0.360)


def test_retraining_on_post_shock_labels_recovers_both(simulation: Simulation) -> None:
    after = _days(simulation, 22, 25)
    later = _days(simulation, 25, 28)
    X = later[list(FEATURE_NAMES)]
    grades = train_grade_model(after)
    assert accuracy_score(later["risk_grade"], grades.predict(X)) > 0.75
    losses = train_loss_model(after)
    assert mean_absolute_error(later["loss_amount"], losses.predict(X)) < 3_500


def test_training_functions_accept_label_text_and_name_what_is_wrong(
    simulation: Simulation,
) -> None:
    frame = simulation.reference_frame().head(1_500)
    text = TARGETS["regression"].to_text(frame["loss_amount"])
    from_text = train_loss_model(frame.assign(loss_amount=text))
    from_numbers = train_loss_model(frame)
    X = frame[list(FEATURE_NAMES)]
    np.testing.assert_allclose(from_text.predict(X), from_numbers.predict(X), rtol=1e-6)
    assert from_numbers.predict(X.head(1)).shape == (1,)
    with pytest.raises(InputValidationError) as bad:
        train_loss_model(frame.assign(loss_amount=frame["loss_amount"].where(frame.index > 3, -1)))
    assert bad.value.field == "loss_amount"
    with pytest.raises(InputValidationError) as missing:
        train_loss_model(frame.drop(columns="loss_amount"))
    assert missing.value.field == "loss_amount"
    with pytest.raises(InputValidationError, match="grades must be"):
        train_grade_model(frame.assign(risk_grade="E"))
    with pytest.raises(InputValidationError, match="two grades"):
        train_grade_model(frame.assign(risk_grade="A"))
    unlabelled = frame.assign(risk_grade=frame["risk_grade"].where(frame.index % 2 == 0))
    assert list(train_grade_model(unlabelled).classes_) == list(RISK_GRADES)


@pytest.mark.parametrize(
    ("task", "expected"), [("multiclass", "multiclass"), ("regression", "regression")]
)
def test_the_export_infers_the_task_and_trusts_only_the_encoder(
    simulation: Simulation, tmp_path: Path, task: str, expected: str
) -> None:
    from decayguard.registry import export_model

    model = TARGETS[task].train(simulation.reference_frame())
    reference = simulation.live_frame().head(300)[list(FEATURE_NAMES)]
    manifest = export_model(
        model, tmp_path / "export", model_name="m", model_version="1", reference=reference
    )
    assert manifest.task == expected
    assert manifest.trusted_types == ["decayguard.sim.training.LoanFeatureEncoder"]
    assert manifest.classes == (list(RISK_GRADES) if task == "multiclass" else [])


def test_the_value_reviewer_is_close_and_reproducible() -> None:
    reviewer = SimulatedValueReviewer(relative_noise=0.02, seed=3)
    at = datetime(2026, 10, 20, tzinfo=UTC)
    answers = [reviewer.review(f"p-{i}", "5000.00", at) for i in range(2_000)]
    values = np.array([float(a.label) for a in answers])
    assert abs(values.mean() / 5000 - 1) < 0.002
    assert 0.018 < values.std() / 5000 < 0.022
    assert reviewer.review("p-7", "5000.00", at) == answers[7]
    assert all(a.answered_at >= at for a in answers)
    with pytest.raises(ValueError, match="not a number"):
        reviewer.review("p-1", "B", at)


@pytest.mark.parametrize("task", TASKS)
def test_the_demo_threshold_separates_before_and_after_the_concept_onset(task: str) -> None:
    """Emulates the demo's realized strategy on the ground truth: each day, the labels that
    arrived for the last 7 days' predictions, with a normal 95% interval. No window before
    the concept onset may cross the threshold; the last ones after it must."""
    settings = DemoSettings(folder=Path("unused"), fast=True, task=task)
    sim = settings.scenario.simulate()
    target = sim.target()
    history = sim.reference_frame()
    champion = target.train(history.iloc[: int(len(history) * 0.7)])
    (metric, threshold), *_ = DEMO_TASKS[task].performance_thresholds.items()
    assert metric == target.metric
    frame = sim.frame
    per_row = target.row_metric(frame[target.column], champion.predict(frame[list(FEATURE_NAMES)]))
    higher_is_better = metric == "accuracy"
    concept_day = sim.scenario.concept_day
    assert concept_day is not None
    crossed: dict[int, bool] = {}
    for day in range(sim.scenario.history_days + 1, sim.scenario.days + 1):
        now = pd.Timestamp(sim.scenario.at_day(day))
        window = (
            (frame["event_timestamp"] >= now - pd.Timedelta(days=7))
            & (frame["event_timestamp"] < now)
            & (frame["label_arrival"] < now)
        ).to_numpy()
        x = per_row[window]
        half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
        crossed[day] = (
            x.mean() + half < threshold if higher_is_better else x.mean() - half > threshold
        )
        if day <= concept_day:
            # Before the onset the interval stays clear of the threshold by a half-width more.
            margin = x.mean() - threshold if higher_is_better else threshold - x.mean()
            assert margin > 2 * half, (day, x.mean(), half)
    assert not any(c for d, c in crossed.items() if d <= concept_day)
    assert crossed[sim.scenario.days - 1]
    assert crossed[sim.scenario.days]
    first = min(d for d, c in crossed.items() if c)
    assert first - concept_day <= 6  # the demo test allows the realized strategy 7 days
