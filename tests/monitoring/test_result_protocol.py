"""One result protocol: every monitoring result gives its points (with flags and reasons) and a
frame; fitted objects used before ``fit`` raise NotFittedError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decayguard.monitoring import (
    DecayDecision,
    MetricPoint,
    MonitoringResult,
    NotFittedError,
    PCAReconstructionDrift,
    PerformanceThresholdRule,
    ReferenceProfile,
    assess_data_quality,
    detect_drift,
    realized_classification_metrics,
    realized_multiclass_metrics,
    realized_regression_metrics,
    task_for,
)
from decayguard.monitoring.results import POINT_COLUMNS


def _correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "colour": rng.choice(["r", "g"], n)})


def _results() -> dict[str, MonitoringResult]:
    rng = np.random.default_rng(0)
    reference = _correlated(rng, 4000, 0.9)
    window = _correlated(rng, 1000, -0.9)
    window.loc[:99, "colour"] = None
    profile = ReferenceProfile().fit(reference)
    pca = PCAReconstructionDrift(["a", "b"]).fit(reference)
    y = rng.integers(0, 2, 300)
    task = task_for("binary", classes=("0", "1"))
    outputs = task.outputs_from_scores(rng.random(300))
    return {
        "drift": detect_drift(profile, window),
        "quality": assess_data_quality(profile, window),
        "multivariate": pca.detect(window),
        "realized": realized_classification_metrics(y, y, rng.random(300), n_bootstrap=50),
        "multiclass": realized_multiclass_metrics(y, y, None, [0, 1]),
        "regression": realized_regression_metrics(rng.normal(size=50), rng.normal(size=50)),
        "prediction_drift": task.detect_prediction_drift(
            task.fit_prediction_profile(outputs), task.outputs_from_scores(rng.random(300) ** 3)
        ),
        "decision": PerformanceThresholdRule("accuracy", 0.9).decide(
            realized_classification_metrics(y, 1 - y)["accuracy"]
        ),
    }


@pytest.mark.parametrize("name", sorted(_results()))
def test_every_result_offers_points_and_a_frame(name: str) -> None:
    result = _results()[name]
    assert isinstance(result, MonitoringResult)
    points = result.to_points()
    assert points
    assert all(isinstance(p, MetricPoint) for p in points)
    frame = result.to_frame()
    assert list(frame.columns) == list(POINT_COLUMNS)
    assert frame["name"].tolist() == [p.name for p in points]
    assert all(p.reason for p in points if p.flagged)  # a flag always says why


def test_points_carry_their_flags_and_names() -> None:
    results = _results()
    (multi,) = results["multivariate"].to_points()
    assert multi.name == "multivariate.pca_error"
    assert multi.flagged
    assert multi.reason.startswith("drifted: mean reconstruction error")
    quality = {(p.name, p.feature): p for p in results["quality"].to_points()}
    assert quality["quality.missing_share", "colour"].flagged
    assert not quality["quality.missing_share", "a"].flagged
    names = {p.name for p in results["prediction_drift"].to_points()}
    assert names >= {"prediction_drift.ks", "prediction_drift.chi2"}
    assert any(p.flagged for p in results["prediction_drift"].to_points())
    assert {p.name.split(".")[0] for p in results["drift"].to_points()} == {"drift"}
    assert {p.name for p in results["multiclass"].to_points()} >= {"realized.f1"}
    (decision,) = results["decision"].to_points()
    assert decision.name == "decay.accuracy"
    assert decision.flagged
    assert decision.reason.startswith("decayed")


def test_quality_issues_are_listed_per_feature() -> None:
    issues = _results()["quality"].issues  # type: ignore[attr-defined]
    assert len(issues) == 1
    assert issues[0].startswith("colour: missing_share")


def test_undefined_figures_become_empty_values_not_nan() -> None:
    decision = DecayDecision(False, "roc_auc", 0.8, "no figure", float("nan"))
    assert decision.to_point().value is None


def test_unfitted_objects_raise_not_fitted_error() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 1.0, 0.0]})
    profile = ReferenceProfile()
    with pytest.raises(NotFittedError, match="ReferenceProfile is not fitted"):
        detect_drift(profile, frame)
    with pytest.raises(NotFittedError):
        profile.to_dict()
    with pytest.raises(AttributeError):
        profile.no_such_attribute  # noqa: B018 - other misses stay AttributeErrors
    pca = PCAReconstructionDrift(["a", "b"])
    with pytest.raises(NotFittedError, match="PCAReconstructionDrift is not fitted"):
        pca.detect(frame)
    with pytest.raises(NotFittedError):
        pca.to_dict()
