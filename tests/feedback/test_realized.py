"""Realized performance per window from late labels, with coverage and maturity."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from sqlalchemy.engine import Engine

from decayguard.feedback import import_labels, label_records_from_rows, realized_performance
from decayguard.store import insert_predictions, read_metric_points, write_metric_points

from .feedback_support import MODEL, T0, MakePredictions


def _deliver(engine: Engine, labels: dict[str, str]) -> None:
    rows = [{"prediction_id": pid, "label": value} for pid, value in labels.items()]
    import_labels(engine, label_records_from_rows(rows, model_name=MODEL))


def test_windows_stay_provisional_until_enough_labels_arrive(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    records = make_predictions(48, step=timedelta(hours=1))  # two days, hourly
    rng = np.random.default_rng(3)
    truth = {r.id: str(int(rng.random() < (r.score or 0))) for r in records}
    day1, day2 = records[:24], records[24:]
    # Day 1: 20 of 24 labels have arrived (83%); day 2: only 6 (25%).
    _deliver(store_engine, {r.id: truth[r.id] for r in day1[:20] + day2[:6]})

    windows = realized_performance(
        store_engine, MODEL, T0, T0 + timedelta(days=2), window=timedelta(days=1), maturity=0.8
    )
    assert [(w.predictions, w.labeled) for w in windows] == [(24, 20), (24, 6)]
    assert [w.coverage for w in windows] == pytest.approx([20 / 24, 6 / 24])
    assert [w.provisional for w in windows] == [False, True]
    labeled_day1 = day1[:20]
    expected = accuracy_score(
        [truth[r.id] for r in labeled_day1], [r.prediction for r in labeled_day1]
    )
    accuracy = windows[0].metrics["accuracy"]
    assert accuracy.value == pytest.approx(expected)
    assert accuracy.lower <= accuracy.value <= accuracy.upper
    assert accuracy.n == 20

    # Late labels are accepted at any time: day 2 matures once they arrive.
    _deliver(store_engine, {r.id: truth[r.id] for r in day2[6:22]})
    later = realized_performance(
        store_engine, MODEL, T0, T0 + timedelta(days=2), window=timedelta(days=1), maturity=0.8
    )
    assert later[1].labeled == 22
    assert not later[1].provisional


def test_a_window_without_predictions_reports_no_coverage(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    make_predictions(3)
    (window,) = realized_performance(
        store_engine, MODEL, T0 + timedelta(days=5), T0 + timedelta(days=6)
    )
    assert (window.predictions, window.labeled, window.coverage) == (0, 0, None)
    assert window.provisional
    assert window.metrics == {}


def test_metric_points_carry_coverage_and_the_provisional_flag(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    records = make_predictions(10)
    _deliver(store_engine, {r.id: str(r.prediction) for r in records[:5]})
    (window,) = realized_performance(store_engine, MODEL, T0, T0 + timedelta(hours=1), maturity=0.9)
    write_metric_points(store_engine, window.to_metric_points(MODEL))
    stored = read_metric_points(store_engine, MODEL, metric="accuracy", strategy="realized")
    assert len(stored) == 1
    row = stored.iloc[0]
    assert row["value"] == pytest.approx(1.0)
    assert row["coverage"] == pytest.approx(0.5)
    assert bool(row["provisional"])
    assert row["n"] == 5


def test_bad_arguments_are_refused(store_engine: Engine) -> None:
    with pytest.raises(ValueError, match="maturity"):
        realized_performance(store_engine, MODEL, T0, T0 + timedelta(days=1), maturity=0)
    with pytest.raises(ValueError, match="window length"):
        realized_performance(store_engine, MODEL, T0, T0 + timedelta(days=1), window=timedelta(0))


def test_shadow_predictions_are_not_the_models_realized_performance(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    answered = make_predictions(6)
    shadow = [replace(r, id=f"{r.id}:shadow", arm="shadow", prediction="1") for r in answered]
    insert_predictions(store_engine, shadow)
    _deliver(store_engine, {r.id: str(r.prediction) for r in answered})
    end = T0 + timedelta(hours=1)
    (window,) = realized_performance(store_engine, MODEL, T0, end)
    assert (window.predictions, window.labeled) == (6, 6)
    assert window.metrics["accuracy"].value == 1.0
    (shadow_window,) = realized_performance(store_engine, MODEL, T0, end, arm="shadow")
    assert (shadow_window.predictions, shadow_window.labeled) == (6, 0)
