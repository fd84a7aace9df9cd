"""The drift decision rule: golden change points, false alarms, window-size sanity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decayguard.monitoring import (
    DriftDecisionRule,
    ReferenceProfile,
    WindowProfile,
    detect_drift,
    detect_prediction_drift,
    fit_prediction_profile,
)

FEATURES = 10


def data(rows: int, rng: np.random.Generator, shift: float = 0.0, shifted: int = 0) -> pd.DataFrame:
    columns: dict[str, object] = {}
    for i in range(FEATURES):
        columns[f"x{i}"] = rng.normal(shift if i < shifted else 0.0, 1.0, rows)
    columns["colour"] = rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2])
    columns["size"] = pd.Categorical(
        rng.choice(["S", "M", "L", "XL"], rows, p=[0.1, 0.4, 0.4, 0.1])
    )
    return pd.DataFrame(columns)


@pytest.fixture(scope="module")
def reference() -> ReferenceProfile:
    return ReferenceProfile().fit(data(20_000, np.random.default_rng(0)))


def test_golden_stream_flags_exactly_the_windows_after_the_change_point(
    reference: ReferenceProfile,
) -> None:
    rng = np.random.default_rng(42)
    flagged = {}
    for window in range(12):
        shift = 0.6 if window >= 7 else 0.0
        report = detect_drift(reference, data(500, rng, shift=shift, shifted=2))
        if report.drifted:
            flagged[window] = report.drifted_features
    # Window 9 has a chance BH discovery (x3: p=0.012, KS D 0.08, Wasserstein effect 0.108);
    # gating on D's lower bound keeps it out, so exactly the two shifted features flag.
    assert flagged == {window: ["x0", "x1"] for window in range(7, 12)}


@pytest.mark.parametrize("rows", [200, 1000])
def test_false_alarm_rate_on_200_undrifted_windows_is_at_most_alpha(
    reference: ReferenceProfile, rows: int
) -> None:
    # 12 features per window; an alarm is any flagged feature. Nominal level: alpha = 0.05.
    rng = np.random.default_rng(rows)
    rule = DriftDecisionRule(alpha=0.05)
    alarms = [detect_drift(reference, data(rows, rng), rule=rule).drifted for _ in range(200)]
    rate = float(np.mean(alarms))
    assert rate <= 0.05, rate


def test_a_million_row_window_does_not_flag_a_negligible_shift() -> None:
    rng = np.random.default_rng(1)
    ref = ReferenceProfile().fit(pd.DataFrame({"x": rng.normal(size=1_000_000)}))
    report = detect_drift(ref, pd.DataFrame({"x": rng.normal(0.02, 1.0, 1_000_000)}))
    feature = report["x"]
    assert feature.adjusted_p_value is not None
    assert feature.adjusted_p_value < 1e-10
    assert not feature.drifted  # ...but negligible
    assert feature.effect_method == "ks"
    assert feature.effect_size < 0.01
    assert feature.result("wasserstein").effect_size == pytest.approx(0.02, abs=0.002)
    assert "not drifted" in feature.reason


def test_a_200_row_noise_window_is_not_flagged_even_with_large_noisy_effects(
    reference: ReferenceProfile,
) -> None:
    # Seed 2, window 8 is one where three numeric features are BH-significant by chance with
    # KS D of 0.12-0.15: the DKW lower bound of D (about D - 0.11 at 200 rows) keeps them out.
    rng = np.random.default_rng(2)
    reports = [detect_drift(reference, data(200, rng)) for _ in range(9)]
    noise = reports[8]
    significant = [f for f in noise.features if (f.adjusted_p_value or 1.0) <= 0.05]
    assert len(significant) == 3
    assert all(f.effect_size >= 0.1 and f.result("ks").gated_effect < 0.1 for f in significant)
    assert not any(r.drifted for r in reports)


def test_a_200_row_window_does_flag_a_large_shift(reference: ReferenceProfile) -> None:
    report = detect_drift(reference, data(200, np.random.default_rng(3), shift=1.0, shifted=1))
    assert report.drifted_features == ["x0"]


def test_spam_share_jumping_from_30_to_75_percent_alarms() -> None:
    rng = np.random.default_rng(4)
    labels = np.array(["ham", "spam"])
    ref_scores = rng.beta(2, 5, 10_000)
    profile = fit_prediction_profile(labels[(rng.random(10_000) < 0.30).astype(int)], ref_scores)
    same = detect_prediction_drift(
        profile, labels[(rng.random(500) < 0.30).astype(int)], rng.beta(2, 5, 500)
    )
    assert not same.drifted
    report = detect_prediction_drift(
        profile, labels[(rng.random(500) < 0.75).astype(int)], rng.beta(5, 2, 500)
    )
    assert sorted(report.drifted_features) == ["predicted_class", "score"]
    assert report["predicted_class"].reason.startswith("drifted: chi2")


def test_merged_windows_give_the_same_report(reference: ReferenceProfile) -> None:
    frame = data(2000, np.random.default_rng(5), shift=0.5, shifted=1)
    halves = [
        WindowProfile.from_frame(reference, part) for part in (frame.iloc[:1000], frame.iloc[1000:])
    ]
    merged = detect_drift(reference, halves[0].merge(halves[1])).to_dict()
    direct = detect_drift(reference, frame).to_dict()
    assert merged["drifted_features"] == direct["drifted_features"] == ["x0"]
    for a, b in zip(merged["features"], direct["features"], strict=True):
        assert a["p_value"] == pytest.approx(b["p_value"], rel=1e-9)
        assert a["effect_size"] == pytest.approx(b["effect_size"], rel=1e-9)


def test_every_result_carries_statistic_p_value_effect_and_flag(
    reference: ReferenceProfile,
) -> None:
    report = detect_drift(reference, data(1000, np.random.default_rng(6), shift=0.8, shifted=1))
    x0 = report["x0"]
    assert {r.method for r in x0.results} == {
        "ks",
        "psi",
        "jensen_shannon",
        "hellinger",
        "wasserstein",
    }
    assert {r.method for r in report["colour"].results} == {
        "chi2",
        "psi",
        "jensen_shannon",
        "hellinger",
    }
    assert x0.result("ks").p_value is not None
    assert x0.result("psi").p_value is None
    assert all(r.drifted for r in x0.results if r.method != "hellinger" or r.effect_size >= 0.1)
    assert not any(r.drifted for r in report["x5"].results)
    records = report.to_records()
    assert {"name", "value", "lower", "upper", "flagged", "reason", "feature"} <= set(records[0])
    assert any(r["flagged"] and r["feature"] == "x0" and r["name"] == "drift.ks" for r in records)


def test_rule_strategies_are_picked_by_name(reference: ReferenceProfile) -> None:
    rule = DriftDecisionRule(
        correction="bonferroni", effects={"numeric": "ks", "categorical": "psi"}
    )
    report = detect_drift(
        reference, data(1000, np.random.default_rng(9), shift=0.8, shifted=1), rule=rule
    )
    assert report.correction == "bonferroni"
    assert report["x0"].effect_method == "ks"
    assert report["colour"].effect_method == "psi"
    assert report.drifted_features == ["x0"]


def test_a_window_without_values_is_not_drifted_and_says_why(reference: ReferenceProfile) -> None:
    empty = data(10, np.random.default_rng(10))
    empty["x0"] = np.nan
    report = detect_drift(reference, empty)
    assert not report["x0"].drifted
    assert report["x0"].reason == "not drifted: no ks p-value (no values in the window)"
