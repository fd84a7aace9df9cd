"""Direct loss estimation (regressors): mixed feature types, shifts, intervals, round trips."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from decayguard.monitoring import DirectLossEstimator, MonitoringError
from decayguard.monitoring.errors import NotFittedError, SchemaMismatchError
from decayguard.monitoring.results import MetricsReport

CITIES = np.array(["oslo", "lima", "pune", "kiev", "nice"])
NOISE = {"oslo": 0.2, "lima": 0.4, "pune": 0.8, "kiev": 1.2, "nice": 1.6}


def world(
    n: int, rng: np.random.Generator, x_low: float = 0.0, city_p: list[float] | None = None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Heteroscedastic regression: the error grows with ``x`` and depends on the city."""
    x = rng.uniform(x_low, 2.0, n)
    city = rng.choice(CITIES, n, p=city_p)
    scale = 0.2 + 0.5 * x + pd.Series(city).map(NOISE).to_numpy()
    y = 3 * x + rng.normal(0, scale)
    frame = pd.DataFrame({"x": x, "city": pd.Categorical(city), "flag": rng.random(n) < 0.5})
    return frame, y, 3 * x


def realized(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    error = pred - y
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}


def test_estimates_mae_and_rmse_together_and_follows_a_shift() -> None:
    rng = np.random.default_rng(5)
    features, y, pred = world(6000, rng)
    estimator = DirectLossEstimator().fit(features, y, pred)
    # unshifted, then only the noisier end of the range and the noisiest cities
    for x_low, city_p in ((0.0, None), (1.5, [0.0, 0.0, 0.2, 0.4, 0.4])):
        f_cur, y_cur, p_cur = world(3000, rng, x_low, city_p)
        report = estimator.estimate(f_cur, p_cur)
        assert isinstance(report, MetricsReport)
        assert report.kind == "estimated"
        assert list(report) == ["mae", "rmse"]
        for name, value in realized(y_cur, p_cur).items():
            est = report[name]
            assert est.method == "direct_loss"
            assert est.n == 3000
            assert est.lower - 0.03 <= value <= est.upper + 0.03, (x_low, est, value)


def test_string_category_missing_and_unseen_values_are_handled() -> None:
    rng = np.random.default_rng(6)
    features, y, pred = world(3000, rng)
    features["city"] = features["city"].astype(str)  # plain strings, not category
    features.loc[features.index[:100], "city"] = None
    features.loc[features.index[100:200], "x"] = np.nan
    estimator = DirectLossEstimator(n_estimators=30).fit(features, y, pred)
    window, _, p_cur = world(200, rng)
    window["city"] = window["city"].astype(object)
    window.loc[window.index[:50], "city"] = "atlantis"  # unseen at fit time
    window.loc[window.index[50:60], "city"] = np.nan
    report = estimator.estimate(window, p_cur)
    assert all(np.isfinite([m.value, m.lower, m.upper]).all() for m in report.values())


def test_round_trips_through_json_without_pickle() -> None:
    rng = np.random.default_rng(7)
    features, y, pred = world(2000, rng)
    estimator = DirectLossEstimator(n_estimators=20).fit(features, y, pred)
    text = json.dumps(estimator.to_dict())
    loaded = DirectLossEstimator.from_dict(json.loads(text))
    window, _, p_cur = world(300, rng)
    assert loaded.estimate(window, p_cur) == estimator.estimate(window, p_cur)


def test_unfitted_use_and_bad_input_raise_errors_of_the_hierarchy() -> None:
    rng = np.random.default_rng(8)
    features, y, pred = world(200, rng)
    with pytest.raises(NotFittedError, match="fit"):
        DirectLossEstimator().estimate(features, pred)
    with pytest.raises(NotFittedError):
        DirectLossEstimator().to_dict()
    with pytest.raises(MonitoringError, match="mape"):
        DirectLossEstimator(metrics=("mape",)).fit(features, y, pred)
    estimator = DirectLossEstimator(metrics=["mae"], n_estimators=5).fit(features, y, pred)
    assert list(estimator.estimate(features, pred)) == ["mae"]
    with pytest.raises(SchemaMismatchError, match="city"):
        estimator.estimate(features.drop(columns="city"), pred)
    with pytest.raises(MonitoringError, match="empty"):
        estimator.estimate(features.iloc[:0], pred[:0])
    with pytest.raises(MonitoringError, match="predictions"):
        estimator.estimate(features, pred[:10])


def test_interval_covers_the_realized_error_in_unshifted_windows() -> None:
    """Coverage over several reference fits: the loss model's own error varies between fits."""
    hits = {"mae": [], "rmse": []}
    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        features, y, pred = world(3000, rng)
        estimator = DirectLossEstimator(seed=seed).fit(features, y, pred)
        for _ in range(40):
            f_cur, y_cur, p_cur = world(400, rng)
            report = estimator.estimate(f_cur, p_cur)
            for name, value in realized(y_cur, p_cur).items():
                hits[name].append(report[name].lower <= value <= report[name].upper)
    for name, values in hits.items():
        assert 0.9 <= np.mean(values) <= 0.995, (name, np.mean(values))
