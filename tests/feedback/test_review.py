"""The review queue, and accuracy from reviews: unbiased under the sampling weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from decayguard.errors import InputValidationError
from decayguard.feedback import (
    PredictionNotFound,
    ReviewBudget,
    ReviewLeases,
    ReviewQueue,
    ReviewSampler,
    estimate_reviewed_metrics,
    reviewed_performance,
)
from decayguard.feedback.label_rules import LabelRules
from decayguard.monitoring.tasks import task_for
from decayguard.store import insert_predictions, review_history

from .feedback_support import MODEL, MakePredictions

RUNS, POPULATION, SHARE = 500, 4000, 0.05
BINARY_LABELS = LabelRules.for_task("binary", classes=["0", "1"])
BINARY = task_for("binary", classes=("0", "1"), positive_class="1")


def _simulate(strategy: str) -> dict[str, float]:
    """500 seeded worlds: calibrated loan-default scores, truth drawn from them, a 5% review
    sample drawn by ``strategy``; the weighted and naive errors against each world's truth."""
    reference = np.random.default_rng(12345).beta(1.2, 3.0, 20_000)
    ref_classes = ["1" if s >= 0.5 else "0" for s in reference]
    sampler = ReviewSampler(strategy, ReviewBudget(share=SHARE)).fit(reference, ref_classes)
    weighted_errors, naive_errors, covered, sizes = [], [], [], []
    for seed in range(RUNS):
        rng = np.random.default_rng(seed)
        score = rng.beta(1.2, 3.0, POPULATION)
        truth = np.where(rng.random(POPULATION) < score, "1", "0")
        prediction = np.where(score >= 0.5, "1", "0")
        true_accuracy = float(np.mean(truth == prediction))
        p = sampler.inclusion_probabilities(score, list(prediction))
        sampled = ReviewSampler.draws(p, rng)
        outputs = BINARY.outputs_from_scores(score[sampled])  # predicts "1" from 0.5
        estimate = estimate_reviewed_metrics(truth[sampled], outputs, p[sampled])
        accuracy = estimate["accuracy"]
        weighted_errors.append(accuracy.value - true_accuracy)
        naive_errors.append(float(np.mean(truth[sampled] == prediction[sampled])) - true_accuracy)
        covered.append(accuracy.lower <= true_accuracy <= accuracy.upper)
        sizes.append(int(sampled.sum()))
    return {
        "weighted_bias": float(np.mean(weighted_errors)),
        "naive_bias": float(np.mean(naive_errors)),
        "coverage": float(np.mean(covered)),
        "mean_sample": float(np.mean(sizes)),
    }


def test_weighted_review_accuracy_is_unbiased_and_the_naive_mean_is_not() -> None:
    """Uncertainty-weighted sampling: the Hajek estimate's mean error over 500 runs is
    within +-0.01 of the true accuracy; the plain mean of the same samples is far below it
    (it over-represents predictions near the boundary, where the model is often wrong)."""
    result = _simulate("uncertainty")
    assert abs(result["weighted_bias"]) <= 0.01
    assert result["naive_bias"] < -0.04  # visibly biased: about -0.07 here
    assert abs(result["naive_bias"]) > 10 * abs(result["weighted_bias"])
    assert 0.92 <= result["coverage"] <= 0.98  # the 95% interval holds its level
    assert result["mean_sample"] == pytest.approx(SHARE * POPULATION, rel=0.02)  # budget kept


@pytest.mark.parametrize("strategy", ["uniform", "stratified"])
def test_weighted_review_accuracy_is_unbiased_under_every_strategy(strategy: str) -> None:
    result = _simulate(strategy)
    assert abs(result["weighted_bias"]) <= 0.01
    assert 0.92 <= result["coverage"] <= 0.98
    assert result["mean_sample"] == pytest.approx(SHARE * POPULATION, rel=0.02)


def test_queue_serves_sampled_predictions_oldest_first_with_progress(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    records = make_predictions(12, sampled_every=3)  # req-0, 3, 6, 9 are sampled
    queue = ReviewQueue(store_engine, MODEL, BINARY_LABELS)
    first = queue.next(limit=2)
    assert [i.prediction_id for i in first] == ["req-00000", "req-00003"]
    assert first[0].inputs == dict(records[0].inputs)
    assert first[0].prediction == records[0].prediction
    assert queue.next(exclude=("req-00000",))[0].prediction_id == "req-00003"

    queue.record("req-00000", reviewer="ann", status="labeled", value="1")
    queue.record("req-00003", reviewer="ann", status="skipped")
    progress = queue.progress()
    assert (progress.sampled, progress.labeled, progress.skipped, progress.pending) == (4, 1, 1, 2)
    assert [i.prediction_id for i in queue.next(limit=10)] == ["req-00006", "req-00009"]

    # A second opinion supersedes the first; both stay in the history.
    queue.record("req-00000", reviewer="bob", status="labeled", value="0")
    assert review_history(store_engine, "req-00000")["value"].tolist() == ["1", "0"]
    assert queue.progress().labeled == 1


def test_queue_refuses_what_would_corrupt_the_sample(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    make_predictions(4, sampled_every=2)
    queue = ReviewQueue(store_engine, MODEL, BINARY_LABELS)
    with pytest.raises(PredictionNotFound):
        queue.record("nope", reviewer="ann", status="labeled", value="1")
    with pytest.raises(InputValidationError, match="not sampled") as info:
        queue.record("req-00001", reviewer="ann", status="labeled", value="1")
    assert info.value.field == "prediction_id"
    with pytest.raises(InputValidationError, match="not one of") as info:
        queue.record("req-00000", reviewer="ann", status="labeled", value="maybe")
    assert info.value.field == "value"
    with pytest.raises(InputValidationError, match="needs a value"):
        queue.record("req-00000", reviewer="ann", status="labeled")
    with pytest.raises(InputValidationError, match="no value"):
        queue.record("req-00000", reviewer="ann", status="skipped", value="1")
    assert queue.progress().reviewed == 0


def test_reviewed_performance_from_the_store_weights_by_inclusion_probability(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    confident = make_predictions(4, prefix="sure", inclusion_prob=0.05, sampled_every=1)
    unsure = make_predictions(4, prefix="edge", inclusion_prob=0.5, sampled_every=1, seed=1)
    queue = ReviewQueue(store_engine, MODEL, BINARY_LABELS)
    for r in confident:  # the model was right on every rarely sampled prediction...
        queue.record(r.id, reviewer="ann", status="labeled", value=str(r.prediction))
    for r in unsure[:3]:  # ...and wrong on the oversampled ones
        flipped = "0" if r.prediction == "1" else "1"
        queue.record(r.id, reviewer="ann", status="labeled", value=flipped)
    queue.record(unsure[3].id, reviewer="ann", status="skipped")

    result = reviewed_performance(store_engine, MODEL)
    weights = np.array([1 / 0.05] * 4 + [1 / 0.5] * 3)
    correct = np.array([1.0] * 4 + [0.0] * 3)
    assert result.metrics["accuracy"].value == pytest.approx(
        float(np.sum(weights * correct) / np.sum(weights))
    )
    assert result.metrics["accuracy"].weighted
    assert result.naive_accuracy == pytest.approx(4 / 7)
    assert (result.labeled, result.skipped, result.without_probability) == (7, 1, 0)
    lower, upper = result.metrics["accuracy"].interval
    assert lower <= result.metrics["accuracy"].value <= upper


def test_reviewed_performance_by_arm_during_a_canary(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    champion = make_predictions(4, prefix="champ", sampled_every=1)
    canary = [replace(r, id=f"canary-{i}", arm="challenger") for i, r in enumerate(champion)]
    insert_predictions(store_engine, canary)
    queue = ReviewQueue(store_engine, MODEL, BINARY_LABELS)
    for r in champion:
        queue.record(r.id, reviewer="ann", status="labeled", value=str(r.prediction))
    for r in canary:
        wrong = "0" if r.prediction == "1" else "1"
        queue.record(r.id, reviewer="ann", status="labeled", value=wrong)
    assert reviewed_performance(store_engine, MODEL).labeled == 8
    assert reviewed_performance(store_engine, MODEL, arm="champion").metrics[
        "accuracy"
    ].value == pytest.approx(1.0)
    assert reviewed_performance(store_engine, MODEL, arm="challenger").metrics[
        "accuracy"
    ].value == pytest.approx(0.0)


def test_reviewed_performance_without_reviews_is_empty_not_an_error(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    make_predictions(3, sampled_every=1)
    result = reviewed_performance(store_engine, MODEL)
    assert result.metrics == {}
    assert result.naive_accuracy is None


def test_leases_keep_reviewers_working_at_once_apart(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    make_predictions(6, sampled_every=2)  # req-0, 2, 4 are sampled
    queue = ReviewQueue(store_engine, MODEL, BINARY_LABELS)
    now = [0.0]
    leases = ReviewLeases(seconds=60, clock=lambda: now[0])

    def ids(reviewer: str) -> list[str]:
        items = leases.claim(reviewer, lambda held: queue.next(limit=1, exclude=held))
        return [i.prediction_id for i in items]

    assert ids("ann") == ["req-00000"]
    assert ids("bob") == ["req-00002"]
    assert ids("ann") == ["req-00000"]  # her own lease does not hide it from her
    queue.record("req-00000", reviewer="ann", status="labeled", value="1")
    leases.release(["req-00000"])
    assert ids("ann") == ["req-00004"]
    now[0] = 61.0  # bob walked away: his lease expired
    assert ids("carol") == ["req-00002"]
    with pytest.raises(ValueError, match="> 0 seconds"):
        ReviewLeases(seconds=0)


def test_review_verdicts_are_checked_like_labels_for_every_task(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    make_predictions(4, sampled_every=1)
    amounts = ReviewQueue(store_engine, MODEL, LabelRules.for_task("regression"))
    assert amounts.label_values == []
    assert amounts.rules.answer == "value"
    amounts.record("req-00000", reviewer="ann", status="labeled", value=" 1250.50 ")
    for bad in ("abc", "nan", "inf"):
        with pytest.raises(InputValidationError, match=f"'{bad}' is not") as info:
            amounts.record("req-00001", reviewer="ann", status="labeled", value=bad)
        assert info.value.field == "value"
    grades = ReviewQueue(
        store_engine, MODEL, LabelRules.for_task("multiclass", classes=["A", "B", "C", "D"])
    )
    assert (grades.label_values, grades.rules.answer) == (["A", "B", "C", "D"], "choice")
    grades.record("req-00002", reviewer="ann", status="labeled", value="C")
    with pytest.raises(InputValidationError, match="'E' is not one of the classes") as info:
        grades.record("req-00003", reviewer="ann", status="labeled", value="E")
    assert info.value.field == "value"
    assert review_history(store_engine, "req-00000")["value"].tolist() == ["1250.5"]
    assert review_history(store_engine, "req-00002")["value"].tolist() == ["C"]
    assert review_history(store_engine, "req-00001").empty
    assert review_history(store_engine, "req-00003").empty
