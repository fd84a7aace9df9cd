"""The task strategies: one object per model task, the same pipeline for each."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from decayguard.errors import InputValidationError
from decayguard.monitoring import (
    TASKS,
    BinaryTask,
    ModelOutputs,
    ModelTask,
    MonitoringError,
    MulticlassTask,
    RegressionTask,
    task_for,
)
from decayguard.task_metrics import TASK_METRICS, THRESHOLD_METRICS

CLASSES = ("A", "B", "C")


def _features(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "z": rng.normal(size=n),
            "kind": rng.choice(["calm", "wild"], n),
        }
    )


def _binary(rng: np.random.Generator, n: int, shift: float = 0.0):  # type: ignore[no-untyped-def]
    frame = _features(rng, n, shift)
    p = 1 / (1 + np.exp(-2 * frame["x"].to_numpy()))
    truth = np.where(rng.random(n) < p, "yes", "no")
    return frame, np.column_stack([1 - p, p]), truth


def _multiclass(rng: np.random.Generator, n: int, shift: float = 0.0):  # type: ignore[no-untyped-def]
    frame = _features(rng, n, shift)
    logits = 1.5 * np.column_stack([frame["x"], -frame["x"], 0.5 * frame["z"]])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.asarray(CLASSES)[(p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)]
    return frame, p, truth


def _regression(rng: np.random.Generator, n: int, shift: float = 0.0):  # type: ignore[no-untyped-def]
    frame = _features(rng, n, shift)
    noise = np.where(frame["kind"] == "wild", 1.0, 0.2)
    truth = 2 * frame["x"].to_numpy() + rng.normal(0, noise)
    return frame, 2 * frame["x"].to_numpy(), truth


SCENARIOS = {
    "binary": (lambda: BinaryTask(("no", "yes"), "yes"), _binary, "accuracy"),
    "multiclass": (lambda: MulticlassTask(CLASSES), _multiclass, "accuracy"),
    "regression": (lambda: RegressionTask(), _regression, "mae"),
}


def test_registry_covers_every_task_with_its_metrics() -> None:
    assert sorted(TASKS) == sorted(TASK_METRICS)
    for name, cls in TASKS.items():
        task = task_for(name, classes=("a", "b"))
        assert isinstance(task, cls)
        assert task.name == name
        assert task.metrics == TASK_METRICS[name]
        assert task.threshold_metrics == THRESHOLD_METRICS[name]
    with pytest.raises(MonitoringError, match="unknown model task 'ranking'"):
        task_for("ranking")


def test_direction_of_threshold_metrics() -> None:
    assert task_for("binary").higher_is_better("roc_auc")
    assert not task_for("multiclass").higher_is_better("log_loss")
    assert not task_for("regression").higher_is_better("mae")
    with pytest.raises(MonitoringError, match="'accuracy' is not a threshold metric"):
        task_for("regression").higher_is_better("accuracy")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_round_trips_through_a_dict(name: str) -> None:
    task = task_for(name, classes=("a", "b"), positive_class="b", decision_threshold=0.4)
    again = ModelTask.from_dict(json.loads(json.dumps(task.to_dict())))
    assert type(again) is type(task)
    assert again.to_dict() == task.to_dict()


def test_labels_are_checked_and_normalised() -> None:
    binary = task_for("binary", classes=("0", "1"))
    assert binary.check_label(1) == "1"
    assert binary.check_label(1.0) == "1"
    assert binary.check_label(" 0 ") == "0"
    with pytest.raises(InputValidationError, match="'2' is not one of the classes"):
        binary.check_label("2")
    with pytest.raises(InputValidationError, match="empty"):
        binary.check_label("  ")
    assert task_for("multiclass").check_label("anything") == "anything"  # classes unknown
    regression = task_for("regression")
    assert regression.check_label("3.5") == "3.5"
    assert regression.check_label(2) == "2.0"
    for bad in ("abc", float("nan"), "inf", True, None):
        with pytest.raises(InputValidationError) as info:
            regression.check_label(bad)
        assert info.value.field == "label"
        assert repr(bad) in str(info.value)
    assert regression.labels_array(["1.5", 2]).dtype == np.float64
    assert binary.labels_array(np.array([1, 0])).tolist() == ["1", "0"]


def test_outputs_from_scores_follow_the_serving_runtime() -> None:
    binary = task_for("binary", classes=("no", "yes"))
    out = binary.outputs_from_scores(np.array([[0.8, 0.2], [0.3, 0.7]]))
    assert out.predictions.tolist() == ["no", "yes"]
    assert out.classes == ("no", "yes")
    one_column = binary.outputs_from_scores(np.array([0.2, 0.7]))
    assert np.allclose(one_column.probabilities, out.probabilities)  # type: ignore[arg-type]
    with pytest.raises(MonitoringError, match="one column per class"):
        task_for("multiclass", classes=CLASSES).outputs_from_scores(np.ones((2, 2)))
    reg = task_for("regression").outputs_from_scores(np.array([[1.5], [2.0]]))
    assert reg.predictions.tolist() == [1.5, 2.0]
    assert reg.probabilities is None
    assert reg.take(np.array([False, True])).predictions.tolist() == [2.0]


def test_outputs_from_log_read_probabilities_and_degrade_without_them() -> None:
    meta = pd.DataFrame({"prediction": ["A", "C", "B"], "score": [0.6, 0.5, 0.9]})
    logged = pd.DataFrame(
        {
            "proba_A": [0.6, np.nan, 0.05],
            "proba_B": [0.3, np.nan, 0.9],
            "proba_C": [0.1, None, 0.05],
        }
    )
    task = task_for("multiclass", classes=CLASSES)
    out = task.outputs_from_log(meta, logged)
    assert out.probabilities is not None
    assert np.allclose(out.probabilities[0], [0.6, 0.3, 0.1])
    assert np.allclose(out.probabilities[1], [0.25, 0.25, 0.5])  # old row: top score on C
    bare = task_for("multiclass").outputs_from_log(meta, logged)  # classes from the columns
    assert bare.classes == CLASSES
    binary = task_for("binary", classes=("0", "1"), positive_class="1")
    old = binary.outputs_from_log(
        pd.DataFrame({"prediction": ["1", "0"], "score": [0.7, 0.2]}), pd.DataFrame(index=[0, 1])
    )
    assert np.allclose(old.probabilities, [[0.3, 0.7], [0.8, 0.2]])  # type: ignore[arg-type]
    regression = task_for("regression").outputs_from_log(
        pd.DataFrame({"prediction": ["1.5", "2.5", "4.0"], "score": [1.5, np.nan, np.nan]}),
        pd.DataFrame({"value": [1.5, 2.5, np.nan]}),
    )
    assert regression.predictions.tolist() == [1.5, 2.5, 4.0]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_whole_pipeline_per_task(name: str) -> None:
    """Fit on a reference; estimate, realize and check prediction drift on two windows."""
    make_task, generate, primary = SCENARIOS[name]
    task = make_task()
    rng = np.random.default_rng(7)
    ref_x, ref_scores, ref_y = generate(rng, 4000)
    reference = task.outputs_from_scores(ref_scores)
    fitted = task.fit_estimator(ref_x, ref_y, reference)
    estimator = task.estimator_from_dict(json.loads(json.dumps(task.estimator_to_dict(fitted))))
    probe = task.outputs_from_scores(ref_scores[:300])
    assert task.estimate(estimator, ref_x[:300], probe).to_dict() == (
        task.estimate(fitted, ref_x[:300], probe).to_dict()
    )  # saved and loaded as JSON, it estimates exactly as before
    profile = task.fit_prediction_profile(reference)
    reference_value = task.reference_metric(ref_y, reference)
    for shift, drifts in ((0.0, False), (1.5, True)):
        win_x, win_scores, win_y = generate(rng, 1500, shift)
        window = task.outputs_from_scores(win_scores)
        estimated = task.estimate(estimator, win_x, window)
        realized = task.realized(win_y, window)
        assert estimated.kind == "estimated"
        assert realized.kind == "realized"
        assert set(realized) == set(task.metrics)
        est, real = estimated[primary], realized[primary]
        assert est.lower <= est.value <= est.upper
        assert abs(est.value - real.value) < 3 * (est.upper - est.lower)  # covariate shift only
        if not drifts:
            assert abs(real.value - reference_value) < 0.05
        weights = 1 / np.linspace(0.2, 1.0, window.n)  # a reviewed sample's design weights
        reviewed = task.realized(win_y, window, weights=weights)
        assert reviewed[primary].weighted
        assert (
            abs(reviewed[primary].value - real.value)
            < reviewed[primary].upper - reviewed[primary].lower
        )
        report = task.detect_prediction_drift(profile, window)
        assert report.drifted is drifts
        assert all(p.name.startswith("prediction_drift.") for p in report.to_points())


def test_regression_prediction_drift_is_numeric() -> None:
    task = task_for("regression")
    rng = np.random.default_rng(3)
    profile = task.fit_prediction_profile(ModelOutputs(rng.normal(size=5000)))
    assert profile.features_["prediction"].kind == "numeric"
    report = task.detect_prediction_drift(profile, ModelOutputs(rng.normal(0.3, 1.0, 800)))
    assert report["prediction"].test == "ks"
    assert report.drifted
    assert not task.detect_prediction_drift(profile, ModelOutputs(rng.normal(size=800))).drifted


def test_estimator_of_another_task_is_refused() -> None:
    saved = {"task": "binary", "estimator": {}}
    with pytest.raises(MonitoringError, match="saved for a 'binary' model"):
        task_for("regression").estimator_from_dict(saved)
