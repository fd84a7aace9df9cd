"""Ground truth per window, and the demo's training function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline

from decayguard.errors import InputValidationError
from decayguard.sim import FEATURE_NAMES, GroundTruth, Simulation, train_model


def test_accuracy_by_window_matches_sklearn(simulation: Simulation, champion: Pipeline) -> None:
    live = simulation.live_frame()
    table = GroundTruth(live).accuracy_by_window(champion, window="1D")
    assert table["n"].sum() == len(live)
    predicted = champion.predict(live[list(FEATURE_NAMES)])
    day = live["event_timestamp"].dt.floor("1D")
    for _, row in table.iterrows():
        mask = (day == row["window_start"]).to_numpy()
        expected = accuracy_score(live.loc[mask, "default"], predicted[mask])
        assert row["accuracy"] == pytest.approx(expected)
        assert row["positive_rate"] == pytest.approx(predicted[mask].mean())
    # The expectation free of outcome noise agrees with the drawn accuracy on average...
    assert (table["accuracy"] - table["expected_accuracy"]).abs().mean() < 0.02
    # ...and no model beats the Bayes accuracy in expectation.
    assert (table["expected_accuracy"] <= table["bayes_accuracy"] + 1e-12).all()


def test_score_predictions_from_logged_labels(simulation: Simulation, champion: Pipeline) -> None:
    live = simulation.live_frame().head(2_000)
    logged = pd.Series(
        champion.predict(live[list(FEATURE_NAMES)]).astype(str), index=live["request_id"]
    )
    truth = GroundTruth(simulation.frame)
    by_model = GroundTruth(live).accuracy_by_window(champion)
    by_log = truth.score_predictions(logged)
    pd.testing.assert_frame_equal(by_model, by_log)


def test_train_model_accepts_string_labels_and_ignores_extra_columns(
    simulation: Simulation,
) -> None:
    frame = simulation.reference_frame().head(1_500)
    as_strings = frame.assign(default=frame["default"].astype(str))
    model = train_model(as_strings)
    assert list(model.classes_) == [0, 1]
    proba = model.predict_proba(frame[list(FEATURE_NAMES)])
    assert proba.shape == (len(frame), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    same = train_model(frame)
    np.testing.assert_allclose(same.predict_proba(frame[list(FEATURE_NAMES)]), proba)


def test_train_model_names_what_is_wrong(simulation: Simulation) -> None:
    frame = simulation.reference_frame().head(500)
    with pytest.raises(InputValidationError) as missing:
        train_model(frame.drop(columns="utilization"))
    assert missing.value.field == "utilization"
    with pytest.raises(InputValidationError) as bad:
        train_model(frame.assign(default="maybe"))
    assert bad.value.field == "default"
    with pytest.raises(InputValidationError, match="both classes"):
        train_model(frame.assign(default=0))


def test_champion_handles_an_unseen_employment_level(champion: Pipeline) -> None:
    row = pd.DataFrame(
        [
            {
                "income": 40_000.0,
                "debt_ratio": 0.3,
                "age": 30.0,
                "credit_lines": 3.0,
                "utilization": 0.4,
                "employment": "student",
            }
        ]
    )
    assert champion.predict_proba(row).shape == (1, 2)


def test_champion_round_trips_through_skops_trusting_only_its_encoder(
    champion: Pipeline, simulation: Simulation, tmp_path: Path
) -> None:
    import skops.io as sio

    sio.dump(champion, tmp_path / "model.skops")
    untrusted = sio.get_untrusted_types(file=tmp_path / "model.skops")
    assert untrusted == ["decayguard.sim.training.LoanFeatureEncoder"]
    loaded = sio.load(tmp_path / "model.skops", trusted=untrusted)
    rows = simulation.live_frame().head(200)[list(FEATURE_NAMES)]
    np.testing.assert_array_equal(loaded.predict_proba(rows), champion.predict_proba(rows))


def test_encoder_names_its_output_columns_and_missing_inputs(champion: Pipeline) -> None:
    encoder = champion.named_steps["encode"]
    assert list(encoder.get_feature_names_out())[:4] == [
        "employment_salaried",
        "employment_self_employed",
        "employment_unemployed",
        "employment_retired",
    ]
    with pytest.raises(InputValidationError) as error:
        champion.predict(pd.DataFrame({"income": [1.0]}))
    assert error.value.field == "debt_ratio"
