"""The rollout judge, the infrastructure guard and the rollout policy (all pure).

The confidence sequences are checked against independent computations: the empirical-Bernstein
one against a plain loop over the published recursion, the Gaussian-mixture boundary against a
numerical integral of the half-normal mixture martingale. Their error rates under continuous
monitoring are measured at scale in ``bench/rollout.py``; a small seeded run is here.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from decayguard.errors import DecayguardError
from decayguard.monitoring.tasks import task_for
from decayguard.release.judge import (
    EmpiricalBernsteinCS,
    GaussianMixtureCS,
    GuardVerdict,
    JudgeVerdict,
    RolloutJudge,
    guard,
    loss_name,
    next_step,
    request_losses,
)
from decayguard.release.stages import Action, Stage
from decayguard.serving.arm_metrics import ArmHealth


def zero_one(n: int, disagreement: float, delta: float, rng: np.random.Generator) -> np.ndarray:
    """Paired 0-1 loss differences with ``P(d=±1) = (disagreement ± delta) / 2``."""
    u = rng.random(n)
    up, down = (disagreement + delta) / 2, (disagreement - delta) / 2
    return np.where(u < up, 1.0, np.where(u < up + down, -1.0, 0.0))


# -- the confidence sequences ------------------------------------------------------------------


def prpl_eb_loop(
    x: np.ndarray, alpha: float, bound: float = 1.0
) -> tuple[list[float], list[float]]:
    """Waudby-Smith & Ramdas's PrPl-EB, one observation at a time (their eq. for λ_t, v_t)."""
    log_term = math.log(2 / alpha)
    mu_prev, sigma2_prev = 0.5, 0.25
    sum_y = sum_sq = sum_lam = sum_lam_y = sum_vpsi = 0.0
    lowers, uppers = [], []
    for t, value in enumerate(x, start=1):
        y = (value + bound) / (2 * bound)
        lam = min(math.sqrt(2 * log_term / (sigma2_prev * t * math.log(1 + t))), 0.5)
        sum_vpsi += (y - mu_prev) ** 2 * (-math.log(1 - lam) - lam)
        sum_lam += lam
        sum_lam_y += lam * y
        centre, half = sum_lam_y / sum_lam, (log_term + sum_vpsi) / sum_lam
        lowers.append(max(centre - half, 0.0) * 2 * bound - bound)
        uppers.append(min(centre + half, 1.0) * 2 * bound - bound)
        sum_y += y
        mu = (0.5 + sum_y) / (t + 1)
        sum_sq += (y - mu) ** 2
        mu_prev, sigma2_prev = mu, (0.25 + sum_sq) / (t + 1)
    return lowers, uppers


def test_empirical_bernstein_matches_a_loop_over_the_published_recursion() -> None:
    x = zero_one(3_000, 0.2, 0.01, np.random.default_rng(1))
    lower, upper = EmpiricalBernsteinCS(confidence=0.9).bounds(x)
    ref_lower, ref_upper = prpl_eb_loop(x, alpha=0.1)
    np.testing.assert_allclose(lower, ref_lower, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(upper, ref_upper, rtol=1e-9, atol=1e-12)


def half_normal_mixture(s: float, t: float, rho2: float) -> float:
    """∫_0^∞ exp(λ s - λ² t / 2) · half-normal(λ; ρ) dλ, by quadrature."""
    rho = math.sqrt(rho2)

    def integrand(lam: float) -> float:
        return math.exp(lam * s - lam**2 * t / 2) * 2 * float(stats.norm.pdf(lam / rho)) / rho

    value, _ = integrate.quad(integrand, 0, np.inf, limit=200)
    return float(value)


@pytest.mark.parametrize("t", [30.0, 200.0, 1_000.0, 20_000.0])
def test_gaussian_mixture_boundary_is_where_the_mixture_martingale_reaches_2_over_alpha(
    t: float,
) -> None:
    cs = GaussianMixtureCS(confidence=0.95, optimise_at=500)
    alpha = 0.05
    rho2 = (-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / 500
    boundary = float(cs.radius(np.array([t]))[0]) * t  # on the sum, in standard deviations
    assert half_normal_mixture(boundary, t, rho2) == pytest.approx(2 / alpha, rel=1e-6)


def test_gaussian_mixture_is_close_to_the_two_sided_asymptotic_cs_of_waudby_smith_et_al() -> None:
    """Far from 0 the one-sided mixture at α/2 is the published two-sided boundary at α."""
    alpha, t_star = 0.05, 1_000
    rho2 = (-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / t_star
    t = np.array([100.0, 1_000.0, 10_000.0])
    published = np.sqrt(2 * (t * rho2 + 1) / (t**2 * rho2) * np.log(np.sqrt(t * rho2 + 1) / alpha))
    ours = GaussianMixtureCS(confidence=1 - alpha, optimise_at=t_star).radius(t)
    np.testing.assert_allclose(ours, published, rtol=0.01)
    assert np.all(ours >= published)


def test_gaussian_mixture_has_no_bound_before_burn_in_or_any_spread() -> None:
    cs = GaussianMixtureCS(confidence=0.95, burn_in=30)
    lower, upper = cs.bounds(np.r_[np.zeros(100), 1.0, np.zeros(10)])
    assert np.all(np.isinf(lower[:100]))
    assert np.all(np.isinf(upper[:100]))
    assert np.isfinite(lower[100])
    assert np.isfinite(upper[100])
    lower, _ = cs.bounds(np.r_[1.0, -1.0, np.zeros(20)])
    assert np.all(np.isinf(lower))  # fewer than burn_in outcomes


def test_decide_on_a_prefix_equals_the_sequence_at_that_prefix() -> None:
    d = zero_one(5_000, 0.15, -0.02, np.random.default_rng(2))
    w = np.random.default_rng(3).choice([1.0, 4.0], size=d.size, p=[0.9, 0.1])
    w[0] = 4.0  # reviews from the start: the same method on every prefix
    for weights in (None, w):
        judge = RolloutJudge(margin=0.01)
        seq = judge.sequence(d, weights)
        for k in (1, 17, 200, 1_234, 5_000):
            prefix = None if weights is None else weights[:k]
            assert judge.decide(d[:k], prefix) == judge.verdict_at(seq, k)


def test_running_intersection_never_widens() -> None:
    seq = RolloutJudge(margin=0.01).sequence(zero_one(4_000, 0.2, 0.0, np.random.default_rng(4)))
    assert np.all(np.diff(seq.lower) >= 0)
    assert np.all(np.diff(seq.upper) <= 0)


def test_method_auto_is_exact_for_unweighted_0_1_and_asymptotic_otherwise() -> None:
    d = zero_one(500, 0.2, 0.0, np.random.default_rng(5))
    assert RolloutJudge(margin=0.01).decide(d).method == "empirical_bernstein"
    assert RolloutJudge(margin=0.01).decide(d, np.ones(d.size)).method == "empirical_bernstein"
    assert RolloutJudge(margin=0.01).decide(d, np.full(d.size, 2.0)).method == "gaussian_mixture"
    assert RolloutJudge(margin=0.1, metric="mae").decide(d).method == "gaussian_mixture"


def test_weights_scale_the_differences() -> None:
    d = zero_one(2_000, 0.3, 0.05, np.random.default_rng(6))
    w = np.random.default_rng(7).uniform(0.5, 3.0, d.size)
    judge = RolloutJudge(margin=0.01, method="gaussian_mixture")
    assert judge.decide(d, w) == judge.decide(d * w)
    assert judge.decide(d, w).mean == pytest.approx(float(np.mean(w * d)))


def test_time_uniform_error_rates_stay_below_nominal_where_a_peeked_t_interval_does_not() -> None:
    """A challenger worse by exactly the margin, looked at after every outcome up to 3,000."""
    margin, n, runs = 0.01, 3_000, 300
    rng = np.random.default_rng(8)
    judge = RolloutJudge(margin=margin)
    promoted = peeked = 0
    t = np.arange(1, n + 1)
    for _ in range(runs):
        d = zero_one(n, 0.15, margin, rng)
        promoted += bool(np.any(judge.sequence(d).upper < margin))
        mean = np.cumsum(d) / t
        sd = np.sqrt(np.maximum(np.cumsum(d * d) / t - mean**2, 0) * t / np.maximum(t - 1, 1))
        upper = mean + 1.96 * sd / np.sqrt(t)
        peeked += bool(np.any((upper < margin)[199:]))
    assert promoted / runs <= 0.025
    assert peeked / runs > 0.05  # the naive interval, peeked at, errs more than twice nominal


# -- verdicts and reasons ----------------------------------------------------------------------


def test_worse_with_confidence_is_worse_and_the_reason_names_the_figures() -> None:
    d = zero_one(2_000, 0.2, 0.1, np.random.default_rng(9))
    v = RolloutJudge(margin=0.01).decide(d)
    assert v.verdict == "worse"
    assert v.lower > 0
    assert v.n == 2_000
    assert v.reason.startswith("challenger worse: Δ0-1 loss +0.")
    assert v.reason.endswith("> 0 on 2000 paired outcomes")
    assert f"[{v.lower:+.3f}, {v.upper:+.3f}]" in v.reason


def test_non_inferior_when_the_upper_bound_is_below_the_margin() -> None:
    d = zero_one(20_000, 0.1, -0.01, np.random.default_rng(10))
    v = RolloutJudge(margin=0.01).decide(d)
    assert v.verdict == "non_inferior"
    assert v.upper < 0.01
    assert v.reason.startswith("challenger non-inferior: Δ0-1 loss -0.")
    assert "< margin +0.010 on 20000 paired outcomes" in v.reason


def test_undecided_on_little_evidence_and_on_none() -> None:
    v = RolloutJudge(margin=0.01).decide(zero_one(100, 0.2, 0.0, np.random.default_rng(11)))
    assert v.verdict == "undecided"
    assert "neither above 0 nor below the margin" in v.reason
    empty = RolloutJudge(margin=0.01).decide([])
    assert (empty.verdict, empty.n, empty.reason) == (
        "undecided",
        0,
        "undecided: no paired outcomes yet",
    )


def test_the_loss_name_follows_the_metric() -> None:
    d = np.random.default_rng(12).normal(0.0, 1.0, 300)
    v = RolloutJudge(margin=0.5, metric="mae").decide(d)
    assert v.loss == "absolute error"
    assert "Δabsolute error" in v.reason
    assert [loss_name(m) for m in ("accuracy", "f1", "roc_auc", "rmse", "log_loss", "mape")] == [
        "0-1 loss",
        "0-1 loss",
        "0-1 loss",
        "squared error",
        "log loss",
        "absolute percentage error",
    ]


def test_verdict_to_dict_is_strict_json() -> None:
    short = RolloutJudge(margin=0.01, method="gaussian_mixture").decide([0.0] * 5)  # no bound
    for v in (RolloutJudge(margin=0.01).decide([]), short):
        data = json.loads(json.dumps(v.to_dict(), allow_nan=False))
        assert data["lower"] is None
        assert data["upper"] is None
        assert data["verdict"] == "undecided"
        assert data["metric"] == "accuracy"
    eb = RolloutJudge(margin=0.01).decide([0.0] * 5).to_dict()
    assert (eb["lower"], eb["upper"], eb["method"]) == (-1.0, 1.0, "empirical_bernstein")


@pytest.mark.parametrize(
    ("differences", "weights", "key"),
    [
        ([0.0, np.nan], None, "differences"),
        ([[0.0, 1.0]], None, "differences"),
        ([0.0, 1.0], [1.0], "weights"),
        ([0.0, 1.0], [1.0, -1.0], "weights"),
        ([0.0, 1.0], [1.0, np.inf], "weights"),
    ],
)
def test_bad_input_names_the_argument(differences: Any, weights: Any, key: str) -> None:
    with pytest.raises(DecayguardError, match=key):
        RolloutJudge(margin=0.01).decide(differences, weights)


def test_empirical_bernstein_refuses_values_outside_its_bounds() -> None:
    with pytest.raises(DecayguardError, match=r"outside \[-1"):
        RolloutJudge(margin=0.01, method="empirical_bernstein").decide([0.0, 2.5])


def test_100k_outcomes_decide_in_one_vectorised_pass() -> None:
    d = zero_one(100_000, 0.1, 0.0, np.random.default_rng(13))
    for method in ("empirical_bernstein", "gaussian_mixture"):
        v = RolloutJudge(margin=0.01, method=method).decide(d)  # type: ignore[arg-type]
        assert v.verdict == "non_inferior"
        assert v.n == 100_000


# -- per-request losses ------------------------------------------------------------------------

BINARY = task_for("binary", classes=["0", "1"])
REGRESSION = task_for("regression")


def binary_outputs() -> tuple[np.ndarray, Any, Any]:
    y = np.array(["0", "1", "1", "0", "1"], dtype=object)
    champion = BINARY.outputs_from_scores(np.array([0.2, 0.9, 0.4, 0.6, 0.7]))
    challenger = BINARY.outputs_from_scores(np.array([0.1, 0.8, 0.6, 0.3, 0.2]))
    return y, champion, challenger


@pytest.mark.parametrize("metric", ["accuracy", "f1", "precision", "recall", "roc_auc"])
def test_classifier_metrics_compare_0_1_losses(metric: str) -> None:
    y, champion, challenger = binary_outputs()
    loss_c, loss_h, name = request_losses(BINARY, metric, y, champion, challenger)
    assert name == "0-1 loss"
    np.testing.assert_array_equal(loss_c, [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(loss_h, [0, 0, 0, 0, 1])


def test_log_loss_per_request_averages_to_scikit_learns() -> None:
    from sklearn.metrics import log_loss

    y, champion, challenger = binary_outputs()
    loss_c, loss_h, name = request_losses(BINARY, "log_loss", y, champion, challenger)
    assert name == "log loss"
    for loss, outputs in ((loss_c, champion), (loss_h, challenger)):
        expected = log_loss(y.astype(str), outputs.probabilities, labels=["0", "1"])
        assert float(np.mean(loss)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metric", "name", "champion_loss"),
    [
        ("mae", "absolute error", [0.5, 1.0, 2.0]),
        ("rmse", "squared error", [0.25, 1.0, 4.0]),
        ("mape", "absolute percentage error", [0.5, 0.5, 0.5]),
    ],
)
def test_regression_losses(metric: str, name: str, champion_loss: list[float]) -> None:
    y = np.array([1.0, 2.0, 4.0])
    champion = REGRESSION.outputs_from_scores([1.5, 1.0, 6.0])
    challenger = REGRESSION.outputs_from_scores([1.0, 2.0, 4.0])
    loss_c, loss_h, got = request_losses(REGRESSION, metric, y, champion, challenger)
    assert got == name
    np.testing.assert_allclose(loss_c, champion_loss)
    np.testing.assert_allclose(loss_h, 0.0)


def test_a_metric_the_task_does_not_have_is_refused_by_name() -> None:
    y = np.array([1.0])
    outputs = REGRESSION.outputs_from_scores([1.0])
    with pytest.raises(DecayguardError, match="'accuracy' is not a threshold metric"):
        request_losses(REGRESSION, "accuracy", y, outputs, outputs)


def test_mismatched_rows_fail_with_a_decayguard_error() -> None:
    y, champion, challenger = binary_outputs()
    with pytest.raises(DecayguardError, match="5 labels but 4 champion"):
        request_losses(BINARY, "accuracy", y, champion.take(slice(0, 4)), challenger)


# -- the infrastructure guard ------------------------------------------------------------------

LIMITS: dict[str, Any] = {
    "max_error_rate": 0.01,
    "max_latency_ratio": 3.0,
    "max_latency_ms": 50.0,
    "min_requests": 200,
}


def arm(version: str, requests: int, errors: int, p99: float | None) -> ArmHealth:
    return ArmHealth(version, requests, errors, p99)


@pytest.mark.parametrize(
    ("champion", "challenger", "breached", "words"),
    [
        (arm("1", 1000, 0, 5.0), None, False, "no serving health of the challenger yet"),
        (
            arm("1", 1000, 0, 5.0),
            arm("2", 199, 199, 900.0),
            False,
            "199 requests < min_requests 200",
        ),
        (arm("1", 1000, 0, 5.0), arm("2", 1000, 10, 5.0), False, "error rate 1.00%"),
        (arm("1", 1000, 0, 5.0), arm("2", 1000, 11, 5.0), True, "error rate 1.10% (11 of 1000)"),
        (arm("1", 1000, 30, 5.0), arm("2", 1000, 20, 5.0), False, "healthy"),
        (arm("1", 1000, 20, 5.0), arm("2", 1000, 21, 5.0), True, "> the champion's 2.00%"),
        (None, arm("2", 1000, 11, 5.0), True, "> the champion's 0.00%"),
        (arm("1", 1000, 0, 20.0), arm("2", 1000, 0, 49.0), False, "p99 49 ms"),
        (arm("1", 1000, 0, 20.0), arm("2", 1000, 0, 59.0), False, "healthy"),
        (arm("1", 1000, 0, 20.0), arm("2", 1000, 0, 61.0), True, "p99 61 ms > max_latency_ms 50"),
        (arm("1", 1000, 0, 0.2), arm("2", 1000, 0, 40.0), False, "healthy"),
        (None, arm("2", 1000, 0, 51.0), True, "no champion latency to compare"),
        (arm("1", 1000, 0, None), arm("2", 1000, 0, 51.0), True, "no champion latency"),
        (arm("1", 1000, 0, 5.0), arm("2", 1000, 0, None), False, "p99 n/a"),
    ],
)
def test_guard(
    champion: ArmHealth | None, challenger: ArmHealth | None, breached: bool, words: str
) -> None:
    v = guard(champion, challenger, **LIMITS)
    assert v.breached is breached
    assert words in v.reason
    assert (v.champion, v.challenger) == (champion, challenger)


def test_guard_names_both_breaches_and_serialises() -> None:
    v = guard(arm("1", 500, 0, 10.0), arm("2", 500, 50, 100.0), **LIMITS)
    assert v.breached
    assert v.reason.startswith("infrastructure breach: challenger error rate")
    assert "; challenger p99 100 ms > max_latency_ms 50 and > 3 x the champion's 10 ms" in v.reason
    data = json.loads(json.dumps(v.to_dict(), allow_nan=False))
    assert data["challenger"] == {
        "version": "2", "requests": 500, "errors": 50, "p99_ms": 100.0, "error_rate": 0.1,
    }  # fmt: skip


# -- the rollout policy ------------------------------------------------------------------------

POLICY: dict[str, Any] = {
    "shadow": True,
    "canary_share": 0.1,
    "min_shadow_hours": 24.0,
    "canary_hours": 24.0,
    "min_labels": 200,
    "max_hours": 336.0,
    "auto_promote": True,
}
OK_GUARD = GuardVerdict(False, "challenger healthy", None, None)
BREACH = GuardVerdict(True, "infrastructure breach: challenger error rate 5.00%", None, None)


def verdict(kind: str, n: int = 500) -> JudgeVerdict:
    bounds = {"worse": (0.01, 0.05), "non_inferior": (-0.02, 0.005), "undecided": (-0.01, 0.03)}
    lower, upper = bounds[kind]
    return RolloutJudge(margin=0.01).verdict_of(n, (lower + upper) / 2, lower, upper, "test")


def step(stage: Stage, hours: float = 30.0, trial: float = 30.0, **kw: Any) -> Any:
    args: dict[str, Any] = {
        **POLICY,
        "verdict": verdict("non_inferior"),
        "guard_verdict": OK_GUARD,
        **kw,
    }
    return next_step(stage, hours_in_stage=hours, hours_in_trial=trial, **args)


@pytest.mark.parametrize(
    ("shadow", "share", "auto", "action", "words"),
    [
        (True, 0.1, True, Action.START_SHADOW, "shadow starts"),
        (True, 0.0, False, Action.START_SHADOW, "shadow starts"),
        (False, 0.1, True, Action.START_CANARY, "canary starts"),
        (False, 0.0, True, Action.PROMOTE, "shadow and canary off: promoted"),
        (False, 0.0, False, None, "waiting for a person"),
    ],
)
def test_validated(
    shadow: bool, share: float, auto: bool, action: Action | None, words: str
) -> None:
    s = step(Stage.VALIDATED, 0.0, 0.0, shadow=shadow, canary_share=share, auto_promote=auto,
             verdict=None, guard_verdict=None)  # fmt: skip
    assert s.action == action
    assert words in s.reason


@pytest.mark.parametrize("stage", [Stage.SHADOW, Stage.CANARY])
def test_a_guard_breach_rolls_back_at_once_whatever_the_judge_says(stage: Stage) -> None:
    s = step(stage, 0.5, 0.5, guard_verdict=BREACH, verdict=verdict("non_inferior", 5))
    assert s.action is Action.ROLL_BACK
    assert s.reason == BREACH.reason


@pytest.mark.parametrize("stage", [Stage.SHADOW, Stage.CANARY])
def test_worse_rolls_back_at_once_before_any_minimum(stage: Stage) -> None:
    worse = verdict("worse", 40)
    s = step(stage, 1.0, 1.0, verdict=worse)
    assert s.action is Action.ROLL_BACK
    assert s.reason == worse.reason


def test_shadow_moves_to_canary_when_hours_labels_and_verdict_are_all_there() -> None:
    s = step(Stage.SHADOW, 24.0, 24.0)
    assert s.action is Action.START_CANARY
    assert s.reason.startswith("shadow done: challenger non-")


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"hours": 23.9}, "shadow 23.9 h < min_shadow_hours 24"),
        ({"verdict": verdict("non_inferior", 199)}, "199 paired outcomes < min_labels 200"),
        ({"verdict": verdict("undecided")}, "undecided: Δ0-1 loss"),
        ({"verdict": None}, "0 paired outcomes < min_labels 200; no verdict of the judge yet"),
    ],
)
def test_shadow_waits_and_says_for_what(kw: dict[str, Any], words: str) -> None:
    hours = kw.pop("hours", 30.0)
    s = step(Stage.SHADOW, hours, hours, **kw)
    assert s.action is None
    assert s.reason.startswith("waiting: ")
    assert words in s.reason


def test_shadow_without_canary_promotes_or_waits_for_a_person() -> None:
    s = step(Stage.SHADOW, canary_share=0.0)
    assert s.action is Action.PROMOTE
    assert s.reason.startswith("challenger non-inferior")
    s = step(Stage.SHADOW, canary_share=0.0, auto_promote=False)
    assert s.action is None
    assert s.reason.startswith("waiting for a person: challenger non-")
    s = step(Stage.SHADOW, auto_promote=False)  # the canary needs no person
    assert s.action is Action.START_CANARY


def test_canary_promotes_after_its_hours() -> None:
    assert step(Stage.CANARY, 24.0, 60.0).action is Action.PROMOTE
    s = step(Stage.CANARY, 10.0, 60.0)
    assert s.action is None
    assert "canary 10.0 h < canary_hours 24" in s.reason
    s = step(Stage.CANARY, 30.0, 60.0, auto_promote=False)
    assert s.action is None
    assert s.reason.endswith("(auto_promote is false)")
    s = step(Stage.CANARY, 30.0, 60.0, verdict=verdict("non_inferior", 150))
    assert s.action is None
    assert "150 paired outcomes < min_labels 200" in s.reason


@pytest.mark.parametrize("stage", [Stage.SHADOW, Stage.CANARY])
def test_inconclusive_at_max_hours_rolls_back(stage: Stage) -> None:
    s = step(stage, 200.0, 336.0, verdict=verdict("undecided", 5_000))
    assert s.action is Action.ROLL_BACK
    assert s.reason.startswith("inconclusive after 336 h (max_hours 336): undecided: Δ0-1 loss")
    assert step(stage, 200.0, 335.9, verdict=verdict("undecided")).action is None
    s = step(stage, 1.0, 400.0, verdict=verdict("non_inferior"))  # its stage's hours not done
    assert s.action is Action.ROLL_BACK
    assert "inconclusive after 400 h" in s.reason


def test_a_promotion_waiting_for_a_person_is_not_ended_by_max_hours() -> None:
    s = step(Stage.CANARY, 300.0, 400.0, auto_promote=False)
    assert s.action is None
    assert s.reason.startswith("waiting for a person")


@pytest.mark.parametrize(
    "stage",
    [Stage.REGISTERED, Stage.CHAMPION, Stage.REJECTED, Stage.ROLLED_BACK, Stage.SUPERSEDED],
)
def test_other_stages_do_nothing(stage: Stage) -> None:
    s = step(stage, verdict=verdict("worse"), guard_verdict=BREACH)
    assert s.action is None
    assert s.reason


def test_the_policy_accepts_stage_names() -> None:
    assert step("shadow", 24.0, 24.0).action is Action.START_CANARY  # type: ignore[arg-type]
