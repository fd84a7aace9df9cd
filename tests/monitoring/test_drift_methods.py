"""Every drift statistic checked against scipy on the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import euclidean, jensenshannon

from decayguard.monitoring import (
    DRIFT_METHODS,
    MonitoringError,
    ReferenceProfile,
    WindowProfile,
    correction,
    drift_method,
)
from decayguard.monitoring.drift import shares


def numeric_pair(n_ref: int, n_cur: int, seed: int, shift: float, sketch_size: int = 8192):
    rng = np.random.default_rng(seed)
    ref = rng.normal(0.0, 2.0, n_ref)
    cur = rng.normal(shift, 2.0, n_cur)
    profile = ReferenceProfile(numeric=["x"], sketch_size=sketch_size).fit(pd.DataFrame({"x": ref}))
    window = WindowProfile.from_frame(profile, pd.DataFrame({"x": cur}))
    return ref, cur, profile.features_["x"], window.features["x"]


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "shift"), [(3000, 200, 0.0), (5000, 800, 0.3), (2000, 2000, 1.0)]
)
def test_ks_matches_scipy_exactly_with_an_exact_reference(
    n_ref: int, n_cur: int, shift: float
) -> None:
    ref, cur, fref, fwin = numeric_pair(n_ref, n_cur, 1, shift)
    assert fref.exact
    ours = drift_method("ks").compute(fref, fwin)
    theirs = stats.ks_2samp(ref, cur, method="asymp")
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)
    assert ours.error_bound == 0.0


def test_ks_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.integers(0, 20, 4000).astype(float), rng.integers(1, 21, 600).astype(float)
    profile = ReferenceProfile(numeric=["x"]).fit(pd.DataFrame({"x": ref}))
    window = WindowProfile.from_frame(profile, pd.DataFrame({"x": cur}))
    ours = drift_method("ks").compute(profile.features_["x"], window.features["x"])
    theirs = stats.ks_2samp(ref, cur, method="asymp")
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


def test_ks_against_a_sketch_stays_within_its_stated_bound() -> None:
    ref, cur, fref, fwin = numeric_pair(200_000, 50_000, 4, 0.05, sketch_size=1024)
    assert not fref.exact
    ours = drift_method("ks").compute(fref, fwin)
    theirs = stats.ks_2samp(ref, cur, method="asymp")
    assert ours.statistic <= theirs.statistic + 1e-12
    assert theirs.statistic <= ours.statistic + ours.error_bound + 1e-12
    assert ours.error_bound <= 2 / 1024
    # beyond en = 10,000 the limiting Kolmogorov distribution is used: small absolute difference
    assert stats.kstwo.sf(ours.statistic, 40_000) == pytest.approx(ours.p_value, abs=3e-3)


@pytest.mark.parametrize(("sketch_size", "seed"), [(8192, 5), (512, 6)])
def test_wasserstein_within_its_error_bound_of_scipy(sketch_size: int, seed: int) -> None:
    ref, cur, fref, fwin = numeric_pair(6000, 1500, seed, 0.4, sketch_size)
    ours = drift_method("wasserstein").compute(fref, fwin)
    theirs = stats.wasserstein_distance(ref, cur)
    assert abs(ours.statistic - theirs) <= ours.error_bound + 1e-12
    assert ours.statistic == pytest.approx(theirs, rel=0.02)
    assert ours.effect_size == pytest.approx(ours.statistic / np.std(ref), rel=1e-9)


def test_wasserstein_counts_tails_outside_the_reference_range() -> None:
    ref, cur = np.linspace(0, 1, 1001), np.linspace(5, 6, 101)
    profile = ReferenceProfile(numeric=["x"]).fit(pd.DataFrame({"x": ref}))
    window = WindowProfile.from_frame(profile, pd.DataFrame({"x": cur}))
    ours = drift_method("wasserstein").compute(profile.features_["x"], window.features["x"])
    assert ours.statistic == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)


def categorical_pair(seed: int):
    rng = np.random.default_rng(seed)
    ref = rng.choice(list("abcd"), 5000, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(list("abcde"), 700, p=[0.3, 0.3, 0.2, 0.1, 0.1])  # "e" is unseen
    profile = ReferenceProfile(categorical=["c"]).fit(pd.DataFrame({"c": ref}))
    window = WindowProfile.from_frame(profile, pd.DataFrame({"c": cur}))
    return ref, cur, profile.features_["c"], window.features["c"]


def test_chi2_is_scipy_contingency_test_of_homogeneity() -> None:
    ref, cur, fref, fwin = categorical_pair(7)
    ours = drift_method("chi2").compute(fref, fwin)
    labels = sorted(set(ref) | set(cur))
    table = np.array([[np.sum(ref == v) for v in labels], [np.sum(cur == v) for v in labels]])
    chi2, p, _dof, _ = stats.chi2_contingency(table, correction=False)
    assert ours.statistic == pytest.approx(chi2, rel=1e-10)
    assert ours.p_value == pytest.approx(p, rel=1e-8)


def test_chi2_homogeneity_is_not_a_goodness_of_fit_against_reference_counts() -> None:
    # A goodness-of-fit test against the reference shares ignores the reference's own noise: at
    # equal sizes its statistic is about twice the homogeneity statistic, so it false-alarms.
    rng = np.random.default_rng(8)
    ref, cur = rng.choice(list("ab"), 300), rng.choice(list("ab"), 300)
    profile = ReferenceProfile(categorical=["c"]).fit(pd.DataFrame({"c": ref}))
    window = WindowProfile.from_frame(profile, pd.DataFrame({"c": cur}))
    ours = drift_method("chi2").compute(profile.features_["c"], window.features["c"])
    observed = np.array([np.sum(cur == "a"), np.sum(cur == "b")])
    expected = np.array([np.mean(ref == "a"), np.mean(ref == "b")]) * 300
    goodness = stats.chisquare(observed, expected).statistic
    assert ours.statistic == pytest.approx(goodness / 2, rel=0.01)


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_binned_distances_match_scipy(kind: str) -> None:
    if kind == "numeric":
        _, _, fref, fwin = numeric_pair(5000, 900, 9, 0.5)
    else:
        _, _, fref, fwin = categorical_pair(10)
    p, q = shares(fref, fwin)
    js = drift_method("jensen_shannon").compute(fref, fwin)
    assert js.statistic == pytest.approx(jensenshannon(p, q, base=2), rel=1e-9)
    hellinger = drift_method("hellinger").compute(fref, fwin)
    assert hellinger.statistic == pytest.approx(
        euclidean(np.sqrt(p), np.sqrt(q)) / np.sqrt(2), rel=1e-9
    )
    psi = drift_method("psi").compute(fref, fwin)
    ps, qs = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    assert psi.statistic == pytest.approx(stats.entropy(qs, ps) + stats.entropy(ps, qs), rel=1e-9)


def test_numeric_bins_are_reference_deciles() -> None:
    _, _, fref, fwin = numeric_pair(10_000, 100, 11, 0.0)
    p, _ = shares(fref, fwin)
    assert p.size == 10
    assert np.allclose(p, 0.1, atol=1e-3)


def test_benjamini_hochberg_matches_scipy() -> None:
    p = np.random.default_rng(12).random(40) ** 3
    ours = correction("benjamini_hochberg").adjust(p)
    assert np.allclose(ours, stats.false_discovery_control(p, method="bh"))


def test_holm_and_bonferroni_adjust_as_defined() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    assert np.allclose(correction("bonferroni").adjust(p), [0.04, 0.16, 0.12, 0.02])
    assert np.allclose(correction("holm").adjust(p), [0.03, 0.06, 0.06, 0.02])


def test_unknown_names_say_what_is_known() -> None:
    with pytest.raises(MonitoringError, match="hellinger"):
        drift_method("kolmogorov")
    with pytest.raises(MonitoringError, match="benjamini_hochberg"):
        correction("bh")
    assert set(DRIFT_METHODS) == {"ks", "chi2", "psi", "jensen_shannon", "hellinger", "wasserstein"}
