"""Review sampling: the expected sampled share equals the budget under every strategy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from decayguard.config import FeedbackConfig
from decayguard.errors import ConfigError
from decayguard.feedback.sampling import (
    STRATEGIES,
    ReviewBudget,
    ReviewSampler,
    StratifiedByClass,
    UncertaintyWeighted,
    solve_scale,
)


def _reference(seed: int, n: int = 20_000) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    scores = rng.beta(0.6, 1.8, size=n)  # skewed towards "0", like loan defaults
    return scores, ["1" if s >= 0.5 else "0" for s in scores]


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("share", [0.01, 0.05, 0.3, 0.9])
def test_mean_inclusion_probability_equals_the_budget(strategy: str, share: float) -> None:
    scores, classes = _reference(1)
    sampler = ReviewSampler(strategy, ReviewBudget(share=share)).fit(scores, classes)
    p = np.array(
        [sampler.inclusion_probability(s, c) for s, c in zip(scores, classes, strict=True)]
    )
    assert p.mean() == pytest.approx(share, rel=1e-9)
    assert p.min() > 0
    assert p.max() <= 1.0


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_drawn_share_matches_the_budget_on_fresh_traffic(strategy: str) -> None:
    ref_scores, ref_classes = _reference(2)
    sampler = ReviewSampler(strategy, ReviewBudget(share=0.05)).fit(ref_scores, ref_classes)
    scores, classes = _reference(3, n=40_000)
    rng = np.random.default_rng(4)
    drawn = [
        sampler.draw(sampler.inclusion_probability(s, c), rng)
        for s, c in zip(scores, classes, strict=True)
    ]
    # Binomial sd of the share at n=40k, p=0.05 is ~0.0011; 5 sd of room.
    assert np.mean(drawn) == pytest.approx(0.05, abs=0.0055)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_vectorised_and_single_probabilities_agree(strategy: str) -> None:
    scores, classes = _reference(9, n=2_000)
    sampler = ReviewSampler(strategy, ReviewBudget(share=0.1)).fit(scores, classes)
    probe = np.concatenate([scores[:500], [np.nan, 0.0, 1.0, 0.5]])
    probe_classes: list[str | None] = [*classes[:500], None, "0", "7", "1"]
    many = sampler.inclusion_probabilities(probe, probe_classes)
    one = [
        sampler.inclusion_probability(None if np.isnan(s) else float(s), c)
        for s, c in zip(probe, probe_classes, strict=True)
    ]
    np.testing.assert_allclose(many, one, rtol=1e-12)


def test_uncertainty_oversamples_near_the_boundary_and_caps_at_one() -> None:
    scores, _ = _reference(5)
    sampler = ReviewSampler("uncertainty", ReviewBudget(share=0.6)).fit(scores)
    p_mid = sampler.inclusion_probability(0.5, None)
    p_confident = sampler.inclusion_probability(0.01, None)
    assert p_mid == 1.0  # the budget is large enough that the boundary is capped
    assert 0 < p_confident < p_mid
    p = np.array([sampler.inclusion_probability(s, None) for s in scores])
    assert p.mean() == pytest.approx(0.6, rel=1e-9)  # renormalised after capping


def test_uncertainty_with_a_custom_threshold_peaks_there() -> None:
    strategy = UncertaintyWeighted(threshold=0.2, floor=0.05)
    sampler = ReviewSampler(strategy, ReviewBudget(share=0.02)).fit(np.linspace(0, 1, 501))
    probs = {s: sampler.inclusion_probability(s, None) for s in (0.0, 0.2, 0.5, 1.0)}
    assert probs[0.2] == max(probs.values())
    assert probs[1.0] == pytest.approx(0.05 * probs[0.2])


def test_stratified_gives_each_predicted_class_the_same_expected_reviews() -> None:
    scores, classes = _reference(6)
    sampler = ReviewSampler("stratified", ReviewBudget(share=0.04)).fit(scores, classes)
    counts = {c: classes.count(c) for c in set(classes)}
    expected_reviews = {c: counts[c] * sampler.inclusion_probability(None, c) for c in counts}
    assert expected_reviews["0"] == pytest.approx(expected_reviews["1"], rel=1e-9)
    # A class never seen in the reference is treated as the rarest.
    rare = min(counts, key=counts.__getitem__)
    assert sampler.inclusion_probability(None, "2") == sampler.inclusion_probability(None, rare)


def test_stratified_with_given_class_shares_needs_no_reference_classes() -> None:
    strategy = StratifiedByClass({"0": 0.9, "1": 0.1})
    sampler = ReviewSampler(strategy, ReviewBudget(share=0.1))
    assert sampler.inclusion_probability(None, "1") == pytest.approx(0.5)
    assert sampler.inclusion_probability(None, "0") == pytest.approx(0.05 / 0.9)


def test_unfitted_sampler_assumes_evenly_spread_scores() -> None:
    sampler = ReviewSampler("uncertainty", ReviewBudget(share=0.1))
    grid = np.linspace(0.0, 1.0, 1001)
    assert np.mean([sampler.inclusion_probability(s, None) for s in grid]) == pytest.approx(0.1)


def test_per_day_budget_becomes_a_share() -> None:
    budget = ReviewBudget(per_day=200, expected_daily_volume=10_000)
    assert budget.expected_share == pytest.approx(0.02)
    assert ReviewBudget(per_day=500, expected_daily_volume=100).expected_share == 1.0
    sampler = ReviewSampler("uniform", budget)
    assert sampler.inclusion_probability(0.3, "0") == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"share": 0.1, "per_day": 3}, "exactly one"),
        ({"share": 1.5}, "within"),
        ({"per_day": 10}, "expected_daily_volume"),
        ({"per_day": -1, "expected_daily_volume": 10}, ">= 0"),
    ],
)
def test_bad_budgets_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReviewBudget(**kwargs)


def test_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="stratified, uncertainty, uniform"):
        ReviewSampler("random", ReviewBudget(share=0.1))


def test_zero_budget_disables_review() -> None:
    sampler = ReviewSampler("uncertainty", ReviewBudget(share=0.0))
    assert sampler.inclusion_probability(0.5, "1") == 0.0
    assert not sampler.draw(0.0, np.random.default_rng(0))


def test_draw_is_bernoulli_and_certain_at_one() -> None:
    rng = np.random.default_rng(7)
    assert all(ReviewSampler.draw(1.0, rng) for _ in range(100))
    assert np.mean([ReviewSampler.draw(0.25, rng) for _ in range(20_000)]) == pytest.approx(
        0.25, abs=0.015
    )


def test_solve_scale_matches_brute_force_bisection() -> None:
    rng = np.random.default_rng(8)
    weights = rng.lognormal(size=300)
    for share in (0.001, 0.1, 0.5, 0.99):
        c = solve_scale(weights, share)
        lo, hi = 0.0, 1e6
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.mean(np.minimum(1, mid * weights)) < share else (lo, mid)
        assert c == pytest.approx(lo, rel=1e-9)


def test_solve_scale_with_frequencies_equals_repeating_rows() -> None:
    weights = np.array([1.0, 3.0, 10.0])
    repeated = np.repeat(weights, [5, 3, 2])
    for share in (0.05, 0.4, 0.8):
        got = solve_scale(weights, share, np.array([5.0, 3.0, 2.0]))
        assert got == pytest.approx(solve_scale(repeated, share), rel=1e-12)


def test_from_config_builds_the_configured_sampler() -> None:
    cfg = FeedbackConfig(review_strategy="uncertainty", review_share=0.05, decision_threshold=0.3)
    sampler = ReviewSampler.from_config(cfg)
    assert isinstance(sampler.strategy, UncertaintyWeighted)
    assert sampler.strategy.threshold == 0.3
    assert sampler.share == 0.05
    per_day = FeedbackConfig(review_per_day=100, expected_daily_predictions=4000)
    assert ReviewSampler.from_config(per_day).share == pytest.approx(0.025)
    with pytest.raises(ConfigError, match=r"feedback\.expected_daily_predictions"):
        ReviewSampler.from_config(FeedbackConfig(review_per_day=100))


def test_sampling_imports_in_the_serving_env_without_control_plane_packages() -> None:
    serve_python = Path(__file__).resolve().parents[2] / ".venv-serve" / "bin" / "python"
    if not serve_python.exists():
        pytest.skip(f"serving env not built at {serve_python}")
    code = (
        "import sys, decayguard.feedback.sampling;"
        "bad = [m for m in ('fastapi', 'prefect', 'feast', 'mlflow', 'pandas', 'scipy')"
        " if m in sys.modules];"
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    proc = subprocess.run([str(serve_python), "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sys.executable != str(serve_python)
