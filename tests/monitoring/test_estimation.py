"""Label-free performance estimation for classifiers: CBPE against sklearn, its coverage.

The direct loss estimator (regressors) is tested in test_direct_loss.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics

from decayguard.monitoring import (
    ConfidenceBasedEstimator,
    MonitoringError,
    MulticlassConfidenceBasedEstimator,
    expected_classification_metrics,
)
from decayguard.monitoring.errors import NotFittedError
from decayguard.monitoring.results import MetricsReport


def calibrated(n: int, rng: np.random.Generator, a: float = 2.0, b: float = 2.0):
    score = rng.beta(a, b, n)
    return (rng.random(n) < score).astype(int), score


def test_expected_metrics_are_sklearn_metrics_on_probability_weighted_labels() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(800)
    score = np.round(p + rng.normal(0, 0.05, 800), 2)
    pred = (score >= 0.5).astype(int)
    ours = expected_classification_metrics(p, pred, score)
    # each row counted once as a positive with weight p and once as a negative with weight 1 - p
    y2, pred2, score2, w2 = (
        np.r_[np.ones(800), np.zeros(800)],
        np.r_[pred, pred],
        np.r_[score, score],
        np.r_[p, 1 - p],
    )
    assert ours["accuracy"] == pytest.approx(metrics.accuracy_score(y2, pred2, sample_weight=w2))
    assert ours["precision"] == pytest.approx(metrics.precision_score(y2, pred2, sample_weight=w2))
    assert ours["recall"] == pytest.approx(metrics.recall_score(y2, pred2, sample_weight=w2))
    assert ours["f1"] == pytest.approx(metrics.f1_score(y2, pred2, sample_weight=w2))
    assert ours["roc_auc"] == pytest.approx(metrics.roc_auc_score(y2, score2, sample_weight=w2))


@pytest.mark.parametrize("calibration", ["isotonic", "platt"])
def test_cbpe_recovers_performance_under_covariate_shift(calibration: str) -> None:
    rng = np.random.default_rng(2)
    y_ref, s_ref = calibrated(20_000, rng)
    estimator = ConfidenceBasedEstimator(calibration=calibration).fit(y_ref, s_ref)
    y, s = calibrated(5000, rng, a=5.0, b=2.0)  # scores move: covariate shift, same calibration
    estimate = estimator.estimate(s)
    realized = {
        "accuracy": metrics.accuracy_score(y, s >= 0.5),
        "f1": metrics.f1_score(y, s >= 0.5),
        "roc_auc": metrics.roc_auc_score(y, s),
    }
    for name, value in realized.items():
        assert estimate[name].lower - 0.01 <= value <= estimate[name].upper + 0.01, name
        assert estimate[name].method == "cbpe"


def test_cbpe_round_trips_through_json() -> None:
    rng = np.random.default_rng(4)
    y_ref, s_ref = calibrated(2000, rng)
    estimator = ConfidenceBasedEstimator().fit(y_ref, s_ref)
    loaded = ConfidenceBasedEstimator.from_dict(json.loads(json.dumps(estimator.to_dict())))
    s = rng.random(100)
    assert loaded.estimate(s)["accuracy"] == estimator.estimate(s)["accuracy"]


def test_cbpe_refuses_unknown_calibration_and_empty_windows() -> None:
    with pytest.raises(MonitoringError, match="isotonic"):
        ConfidenceBasedEstimator(calibration="magic").fit([0, 1], [0.2, 0.8])
    estimator = ConfidenceBasedEstimator().fit([0, 1, 0, 1], [0.1, 0.9, 0.3, 0.7])
    with pytest.raises(MonitoringError, match="empty"):
        estimator.estimate([])


@pytest.mark.parametrize(
    "estimator", [ConfidenceBasedEstimator(), MulticlassConfidenceBasedEstimator()]
)
def test_unfitted_estimators_raise_not_fitted(estimator: object) -> None:
    for call in ("estimate", "to_dict"):
        with pytest.raises(NotFittedError, match="fit"):
            getattr(estimator, call)(*([np.ones((3, 2))] if call == "estimate" else []))


def test_estimates_are_metrics_reports_of_kind_estimated() -> None:
    rng = np.random.default_rng(8)
    y_ref, s_ref = calibrated(2000, rng)
    report = ConfidenceBasedEstimator().fit(y_ref, s_ref).estimate(rng.random(200))
    assert isinstance(report, MetricsReport)
    assert report.kind == "estimated"
    assert sorted(report) == ["accuracy", "f1", "precision", "recall", "roc_auc"]
    assert next(p.name for p in report.to_points()) == "estimated.accuracy"
    y3, p3 = multiclass(2000, rng)
    multi = MulticlassConfidenceBasedEstimator().fit(y3, p3).estimate(p3[:100])
    assert isinstance(multi, MetricsReport)
    assert multi.kind == "estimated"
    assert multi.to_frame()["name"].str.startswith("estimated.").all()


def multiclass(n: int, rng: np.random.Generator, concentration: float = 1.0):
    p = rng.dirichlet([concentration, 1.0, 1.0], n)
    y = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return y, p


def test_multiclass_expected_metrics_are_sklearn_macro_metrics_on_weighted_labels() -> None:
    rng = np.random.default_rng(6)
    y_ref, p_ref = multiclass(20_000, rng)
    estimator = MulticlassConfidenceBasedEstimator().fit(y_ref, p_ref)
    _, scores = multiclass(600, rng)
    estimate = estimator.estimate(scores)
    p = estimator.probabilities(scores)
    n, k = p.shape
    # row i appears k times, once per class j, with weight p[i, j]
    y2 = np.repeat(np.arange(k)[None, :], n, axis=0).ravel()
    pred2 = np.repeat(scores.argmax(axis=1), k)
    w2 = p.ravel()
    scores2 = np.repeat(scores, k, axis=0)
    assert estimate["accuracy"].value == pytest.approx(
        metrics.accuracy_score(y2, pred2, sample_weight=w2)
    )
    for name, fn in (
        ("precision", metrics.precision_score),
        ("recall", metrics.recall_score),
        ("f1", metrics.f1_score),
    ):
        assert estimate[name].value == pytest.approx(
            fn(y2, pred2, average="macro", sample_weight=w2)
        )
    auc = metrics.roc_auc_score(y2, scores2, multi_class="ovr", average="macro", sample_weight=w2)
    assert estimate["roc_auc"].value == pytest.approx(auc)


def test_multiclass_cbpe_follows_a_shift_and_round_trips() -> None:
    rng = np.random.default_rng(7)
    y_ref, p_ref = multiclass(20_000, rng)
    estimator = MulticlassConfidenceBasedEstimator().fit(y_ref, p_ref)
    y, scores = multiclass(2000, rng, concentration=5.0)  # class 0 now dominates: easier
    estimate = estimator.estimate(scores)
    realized = metrics.accuracy_score(y, scores.argmax(axis=1))
    assert estimate["accuracy"].lower - 0.01 <= realized <= estimate["accuracy"].upper + 0.01
    assert estimate["accuracy"].value > estimator.estimate(p_ref[:2000])["accuracy"].value
    loaded = MulticlassConfidenceBasedEstimator.from_dict(
        json.loads(json.dumps(estimator.to_dict()))
    )
    assert loaded.estimate(scores[:100]) == estimator.estimate(scores[:100])


def test_cbpe_stores_bootstrap_refits_and_still_loads_dicts_saved_without_them() -> None:
    rng = np.random.default_rng(9)
    y_ref, s_ref = calibrated(2000, rng)
    saved = ConfidenceBasedEstimator().fit(y_ref, s_ref).to_dict()
    assert len(saved["calibrator"]["refits"]) == 100
    # a dict from before the refits (Beta block counts instead) loads: no calibration spread
    old = json.loads(json.dumps(saved))
    del old["calibrator"]["refits"], old["calibrator"]["n_refits"], old["calibrator"]["seed"]
    old["calibrator"]["counts"] = [1.0] * len(old["calibrator"]["x"])
    s = rng.beta(2, 2, 2000)
    new_report = ConfidenceBasedEstimator.from_dict(saved).estimate(s)["roc_auc"]
    old_report = ConfidenceBasedEstimator.from_dict(old).estimate(s)["roc_auc"]
    assert old_report.value == new_report.value
    assert old_report.upper - old_report.lower < new_report.upper - new_report.lower


def test_small_reference_widens_and_recentres_the_interval() -> None:
    # isotonic regression overfits a small reference (probabilities too extreme, AUC too
    # high): the bootstrap refits widen the interval and shift it down
    rng = np.random.default_rng(10)
    s = rng.beta(2, 2, 2000)
    y_small, s_small = calibrated(500, rng)
    report = ConfidenceBasedEstimator().fit(y_small, s_small).estimate(s)["roc_auc"]
    y_big, s_big = calibrated(50_000, rng)
    big = ConfidenceBasedEstimator().fit(y_big, s_big).estimate(s)["roc_auc"]
    assert report.upper - report.lower > 1.5 * (big.upper - big.lower)
    assert (report.lower + report.upper) / 2 < report.value


def test_iterated_bootstrap_inflation_is_stored_and_old_dicts_load_without_it() -> None:
    rng = np.random.default_rng(12)
    y_ref, s_ref = calibrated(500, rng)
    estimator = ConfidenceBasedEstimator().fit(y_ref, s_ref)
    saved = json.loads(json.dumps(estimator.to_dict()))
    assert set(saved["inflation"]) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "bernoulli",
    }
    assert all(np.isfinite(v) and v > 0 for v in saved["inflation"].values())
    s = rng.beta(2, 2, 300)
    report = estimator.estimate(s)["roc_auc"]
    assert ConfidenceBasedEstimator.from_dict(saved).estimate(s)["roc_auc"] == report
    # a dict saved before the iterated bootstrap: same point estimate, the old interval
    old = {k: v for k, v in saved.items() if k not in ("inflation", "n_inner")}
    old_report = ConfidenceBasedEstimator.from_dict(old).estimate(s)["roc_auc"]
    assert old_report.value == report.value
    uninflated = ConfidenceBasedEstimator().fit(y_ref, s_ref)
    uninflated.inflation_ = {}
    assert uninflated.estimate(s)["roc_auc"] == old_report


def test_platt_and_unrefitted_calibrations_carry_no_inflation() -> None:
    rng = np.random.default_rng(13)
    y_ref, s_ref = calibrated(500, rng)
    assert ConfidenceBasedEstimator("platt").fit(y_ref, s_ref).inflation_ == {}
    assert ConfidenceBasedEstimator(n_inner=1).fit(y_ref, s_ref).inflation_ == {}


def test_iterated_inflation_averages_above_one_on_small_references() -> None:
    # isotonic refits from a 500-row fit vary less than the fit does around the truth, and the
    # bias correction adds its own variance: the iterated bootstrap widens, on average
    rng = np.random.default_rng(14)
    kappas = []
    for seed in range(40):
        y_ref, s_ref = calibrated(500, rng)
        kappas.append(ConfidenceBasedEstimator(seed=seed).fit(y_ref, s_ref).inflation_["roc_auc"])
    assert 1.05 < float(np.mean(kappas)) < 1.5


def test_a_constant_predictor_fits_without_dividing_by_zero() -> None:
    """A model that gives every row the same score (trained on shuffled labels, say) leaves
    the bootstrap no variance to scale: the fit keeps its intervals uninflated."""
    from decayguard.monitoring.estimation import ConfidenceBasedEstimator

    rng = np.random.default_rng(3)
    y = rng.random(600) < 0.3
    fitted = ConfidenceBasedEstimator().fit(y, np.full(600, 0.31))
    estimate = fitted.estimate(np.full(200, 0.31))
    assert 0.0 <= estimate["accuracy"].value <= 1.0
    assert all(v == 1.0 for v in fitted.inflation_.values())
