"""Data quality and the multivariate (PCA reconstruction) drift test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from decayguard.monitoring import (
    PCAReconstructionDrift,
    ReferenceProfile,
    assess_data_quality,
    detect_drift,
)


def frame(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": rng.normal(size=rows), "colour": rng.choice(["red", "green", "blue"], rows)}
    )


def test_clean_window_has_no_quality_issue() -> None:
    rng = np.random.default_rng(1)
    reference = ReferenceProfile().fit(frame(5000, rng))
    report = assess_data_quality(reference, frame(1000, rng))
    assert report.flagged_features == []


def test_missing_out_of_range_and_unseen_are_flagged() -> None:
    rng = np.random.default_rng(2)
    reference = ReferenceProfile().fit(frame(5000, rng))
    current = frame(1000, rng)
    current.loc[:99, "x"] = np.nan
    current.loc[100:199, "x"] = 50.0
    current.loc[:149, "colour"] = "purple"
    report = assess_data_quality(reference, current)
    x = report.features[0]
    assert x.missing_share.value == pytest.approx(0.1)
    assert x.out_of_range_share is not None
    assert x.out_of_range_share.value == pytest.approx(100 / 900, abs=0.005)
    colour = report.features[1]
    assert colour.unseen_share is not None
    assert colour.unseen_share.value == pytest.approx(0.15)
    assert [i.split()[0] for i in x.issues] == ["missing_share", "out_of_range_share"]
    assert [i.split()[0] for i in colour.issues] == ["unseen_share"]
    points = report.to_points()
    assert {p.name for p in points if p.flagged} == {
        "quality.missing_share",
        "quality.out_of_range_share",
        "quality.unseen_share",
    }


def correlated(rows: int, rng: np.random.Generator, broken: bool = False) -> pd.DataFrame:
    a = rng.normal(size=rows)
    b = rng.normal(size=rows) if broken else a * 0.95 + rng.normal(0, 0.31, rows)
    c = rng.normal(size=rows)
    return pd.DataFrame({"a": a, "b": b, "c": c})


def test_pca_reconstruction_catches_a_broken_correlation_univariate_drift_misses() -> None:
    rng = np.random.default_rng(3)
    ref = correlated(10_000, rng)
    detector = PCAReconstructionDrift(["a", "b", "c"]).fit(ref)
    profile = ReferenceProfile().fit(ref)
    same, broken = correlated(2000, rng), correlated(2000, rng, broken=True)
    assert not detector.detect(same).drifted
    assert not detect_drift(profile, broken).drifted  # marginals unchanged
    result = detector.detect(broken)
    assert result.drifted
    assert result.reason.startswith("drifted: mean reconstruction error")


def test_pca_components_match_sklearn_and_round_trip() -> None:
    rng = np.random.default_rng(4)
    ref = correlated(3000, rng)
    detector = PCAReconstructionDrift(["a", "b", "c"], variance=0.9).fit(ref)
    z = (ref - ref.mean()) / ref.std(ddof=0)
    theirs = PCA(n_components=detector.components_.shape[0]).fit(z.to_numpy())
    assert np.allclose(np.abs(detector.components_), np.abs(theirs.components_), atol=1e-8)
    loaded = PCAReconstructionDrift.from_dict(json.loads(json.dumps(detector.to_dict())))
    window = correlated(500, rng, broken=True)
    assert loaded.detect(window) == detector.detect(window)


def test_pca_drift_false_alarms_on_undrifted_windows_stay_below_alpha() -> None:
    rng = np.random.default_rng(5)
    detector = PCAReconstructionDrift(["a", "b", "c"]).fit(correlated(20_000, rng))
    alarms = [detector.detect(correlated(500, rng)).drifted for _ in range(200)]
    assert np.mean(alarms) <= 0.05
