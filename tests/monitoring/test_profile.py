"""Reference and window profiles: JSON round trips, exact merging, the grid locator."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from decayguard.monitoring import ProfileError, ReferenceProfile, SchemaMismatchError, WindowProfile
from decayguard.monitoring._grid import GridLocator
from decayguard.monitoring.profile import NumericReference


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, rows)
    x[rng.random(rows) < 0.02] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 5, rows),  # few distinct values: an exact grid with ties
            "colour": rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2]),
        }
    )


def test_reference_profile_round_trips_through_json_without_pickle() -> None:
    profile = ReferenceProfile(sketch_size=256).fit(frame(5000, 0))
    text = json.dumps(profile.to_dict())
    loaded = ReferenceProfile.from_dict(json.loads(text))
    assert loaded.fingerprint == profile.fingerprint
    assert loaded.to_dict() == profile.to_dict()
    assert {f.kind for f in loaded.features_.values()} == {"numeric", "categorical"}


def test_numeric_reference_is_exact_for_few_values_and_a_sketch_otherwise() -> None:
    profile = ReferenceProfile(sketch_size=256).fit(frame(5000, 0))
    k, x = profile.features_["k"], profile.features_["x"]
    assert isinstance(k, NumericReference)
    assert isinstance(x, NumericReference)
    assert k.exact
    assert k.ks_error_bound == 0.0
    assert k.grid.tolist() == [0, 1, 2, 3, 4]
    assert not x.exact
    assert 0 < x.ks_error_bound <= 2 / 256
    assert x.n_missing == pytest.approx(100, abs=40)


def test_categorical_reference_keeps_top_categories_and_an_other_bucket() -> None:
    data = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5})
    profile = ReferenceProfile(categorical=["c"], max_categories=2).fit(data)
    ref = profile.features_["c"]
    assert ref.to_dict()["categories"] == ["a", "b"]
    assert ref.to_dict()["counts"] == [50, 30, 20]


def test_windows_merge_exactly() -> None:
    profile = ReferenceProfile(sketch_size=256).fit(frame(5000, 0))
    whole = frame(3000, 1, shift=0.3)
    parts = [WindowProfile.from_frame(profile, whole.iloc[i : i + 1000]) for i in (0, 1000, 2000)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    direct = WindowProfile.from_frame(profile, whole)
    for name in direct.features:
        a, b = merged.features[name].to_dict(), direct.features[name].to_dict()
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], str):
                assert a[key] == b[key]
            else:
                assert a[key] == pytest.approx(b[key], rel=1e-12), (name, key)
    assert merged.n_rows == 3000
    assert (
        WindowProfile.from_dict(json.loads(json.dumps(merged.to_dict()))).to_dict()
        == merged.to_dict()
    )


def test_window_of_another_reference_does_not_merge() -> None:
    a = ReferenceProfile().fit(frame(500, 0))
    b = ReferenceProfile().fit(frame(500, 1))
    with pytest.raises(ProfileError):
        WindowProfile.from_frame(a, frame(100, 2)).merge(WindowProfile.from_frame(b, frame(100, 2)))


def test_missing_column_is_named() -> None:
    profile = ReferenceProfile().fit(frame(500, 0))
    with pytest.raises(SchemaMismatchError, match="colour"):
        WindowProfile.from_frame(profile, frame(100, 1).drop(columns="colour"))


def test_all_missing_reference_column_is_a_profile_error() -> None:
    with pytest.raises(ProfileError, match="x"):
        ReferenceProfile(numeric=["x"]).fit(pd.DataFrame({"x": [np.nan, np.nan]}))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_locator_matches_searchsorted(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = np.unique(np.round(rng.lognormal(size=300), 2))  # skewed, so cells hold many points
    values = np.r_[rng.lognormal(size=20_000), grid, -np.inf, np.inf, grid[0] - 1, grid[-1] + 1]
    values = np.round(values, 2)
    left = np.searchsorted(grid, values, side="left")
    right = np.searchsorted(grid, values, side="right")
    expected = 2 * left + (right > left)
    locator = GridLocator(grid)
    assert np.array_equal(locator.keys(values), expected)
    assert np.array_equal(locator.counts(values), np.bincount(expected, minlength=locator.n_keys))
