"""Measured error rates of the rollout judge under continuous monitoring (``release.judge``).

Each simulation is one live trial decided every hour by the real judge and the real policy
(:func:`decayguard.release.judge.next_step`, with ``ReleaseConfig``'s defaults: 24 h shadow,
24 h canary, ``min_labels`` 200, ``max_hours`` 336, margin 0.01, confidence 0.95):

* traffic: 240 requests an hour on average (a daily cycle of ±50 %), 10 % of them labelled,
  each label arriving after a log-normal delay (median 6 h, σ 1): a run sees the paired
  outcomes whose label has arrived, in arrival order (~24 an hour once the delays fill);
* paired 0-1 losses like a real classifier pair's (as in ``bench/gate.py``): request ``i`` has
  a latent difficulty ``u_i`` shared by both models and model ``m`` is right when
  ``ρ u_i + sqrt(1 - ρ²) e_mi < Φ⁻¹(acc_m)`` (``ρ = 0.7``, ``--rho``); the champion's accuracy
  is 0.85, so the two disagree on 18-19 % of the requests (11-12 % with ``--rho 0.9``);
* scenarios: a challenger truly **worse by exactly the margin** (0.84: the boundary of the
  promotion null; ``false_promotion_rate``, nominal ≤ (1 - confidence) / 2 = 2.5 %), an
  **equal** one (0.85: ``false_rollback_rate``, a "worse" verdict; nominal ≤ 2.5 %) and a
  **better** one (0.87: ``promotion_rate`` and ``median_labels_to_decision``, the paired
  outcomes at the promotion);
* the same streams judged by the naive fixed-horizon test, a 95 % paired normal interval
  recomputed every run with the same policy (``naive_peeking_false_promotion_rate``), by that
  interval looked at once at 48 h (its nominal use: ``naive_once_false_promotion_rate``) and
  by the judge's asymptotic Gaussian-mixture sequence (``gaussian_mixture_*``, what the judge
  uses for other losses and for review weights);
* a regression pair (absolute errors, heavy-tailed: both models' errors are t with 4 degrees
  of freedom, correlated ``ρ``; the challenger's MAE exactly 1 % (the margin) above the
  champion's 1.0): ``regression_false_promotion_rate`` of the Gaussian-mixture judge;
* ``time_uniform_miss_by_disagreement``: streams of 10,000 0-1 differences with mean exactly
  the margin, looked at after every outcome: how often each sequence's upper bound ever falls
  below the mean, by disagreement rate (the asymptotic sequence's plug-in variance fails when
  the models rarely disagree, which is why the judge uses the exact one for 0-1 losses).

``swap_failures`` and ``crash_steps_consistent`` come from real components (MLServer, the
store) in ``bench/rollout_live.py`` (``real_component_figures()``), imported lazily: null when
that module is missing or with ``--no-live``. Ends with one ``RESULT {json}`` line. Run:
``.venv/bin/python bench/rollout.py`` (``--runs`` simulations per scenario, default 500).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from decayguard.config import ReleaseConfig
from decayguard.release.judge import ConfidenceSequence, RolloutJudge, next_step
from decayguard.release.stages import Action, Stage, next_stage

CFG = ReleaseConfig()
MARGIN, CONFIDENCE, RHO = 0.01, CFG.confidence, 0.7
CHAMPION_ACCURACY = 0.85
SCENARIOS = {"worse": 0.84, "equal": 0.85, "better": 0.87}
REQUESTS_PER_HOUR, LABEL_SHARE, DELAY_MEDIAN_H, DELAY_SIGMA = 240.0, 0.10, 6.0, 1.0
NAIVE_ONCE_AT_H = CFG.min_shadow_hours + CFG.canary_hours  # the first hour it could promote
HOURS = int(CFG.max_hours)
Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))


def discordance(challenger_accuracy: float) -> tuple[float, float]:
    """``P(d = +1)`` (only the champion right) and ``P(d = -1)`` under the latent model."""
    a_c, a_h = stats.norm.ppf(CHAMPION_ACCURACY), stats.norm.ppf(challenger_accuracy)
    cov = [[1.0, RHO**2], [RHO**2, 1.0]]
    both = float(stats.multivariate_normal(mean=[0, 0], cov=cov).cdf([a_c, a_h]))
    return CHAMPION_ACCURACY - both, challenger_accuracy - both


def arrivals(rng: np.random.Generator) -> NDArray[np.int64]:
    """Labels arrived by each run ``1..HOURS`` (cumulative counts)."""
    hours = np.arange(HOURS)
    rate = REQUESTS_PER_HOUR * LABEL_SHARE * (1 + 0.5 * np.sin(2 * np.pi * hours / 24))
    born = np.repeat(hours, rng.poisson(rate)).astype(np.float64)
    known = (
        born + rng.random(born.size) + rng.lognormal(np.log(DELAY_MEDIAN_H), DELAY_SIGMA, born.size)
    )
    counts = np.histogram(known, bins=np.arange(0, HOURS + 1))[0]
    return np.cumsum(counts)[:HOURS].astype(np.int64)  # runs at hours 1..HOURS


def zero_one_differences(
    n: int, challenger_accuracy: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    up, down = discordance(challenger_accuracy)
    u = rng.random(n)
    return np.where(u < up, 1.0, np.where(u < up + down, -1.0, 0.0))


def regression_differences(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """|error| of the challenger minus the champion's; t(4) errors (E|t4| = 1), challenger's
    scaled by 1 + margin so its MAE is exactly the margin worse."""
    z = rng.standard_normal((2, n))
    z[1] = RHO * z[0] + math.sqrt(1 - RHO**2) * z[1]
    scale = np.sqrt(rng.chisquare(4, n) / 4)
    return (1 + MARGIN) * np.abs(z[1] / scale) - np.abs(z[0] / scale)


def naive_sequence(d: NDArray[np.float64]) -> ConfidenceSequence:
    """The fixed-horizon paired normal interval at every prefix (no intersection)."""
    t = np.arange(1, d.size + 1, dtype=np.float64)
    mean = np.cumsum(d) / t
    var = np.maximum(np.cumsum(d * d) / t - mean**2, 0.0) * t / np.maximum(t - 1, 1)
    half = np.where(t > 1, Z * np.sqrt(var / t), np.inf)
    return ConfidenceSequence(mean, mean - half, mean + half, "naive")


@dataclass(frozen=True)
class Outcome:
    action: Action | None  # promote, roll_back, or None (still waiting for a person)
    kind: str  # promoted, worse, inconclusive
    hour: int
    labels: int


def run_trial(judge: RolloutJudge, seq: ConfidenceSequence, arrived: NDArray[np.int64]) -> Outcome:
    """Hourly runs of the real policy on the verdicts the sequence gave at each run."""
    stage, stage_start = next_stage(Stage.VALIDATED, Action.START_SHADOW), 0
    for hour in range(1, HOURS + 1):
        n = int(min(arrived[hour - 1], seq.n))
        verdict = judge.verdict_at(seq, n)
        step = next_step(
            stage, hours_in_stage=hour - stage_start, hours_in_trial=hour, verdict=verdict,
            guard_verdict=None, shadow=CFG.shadow, canary_share=CFG.canary_share,
            min_shadow_hours=CFG.min_shadow_hours, canary_hours=CFG.canary_hours,
            min_labels=CFG.min_labels, max_hours=CFG.max_hours, auto_promote=CFG.auto_promote,
        )  # fmt: skip
        if step.action is Action.START_CANARY:
            stage, stage_start = next_stage(stage, step.action), hour
        elif step.action is Action.PROMOTE:
            return Outcome(step.action, "promoted", hour, n)
        elif step.action is Action.ROLL_BACK:
            kind = "inconclusive" if step.reason.startswith("inconclusive") else "worse"
            return Outcome(step.action, kind, hour, n)
    return Outcome(None, "undecided", HOURS, int(arrived[-1]))


def wilson(k: int, n: int) -> tuple[float, float]:
    p, z = k / n, 1.959964
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(outcomes: list[Outcome], kind: str) -> dict[str, Any]:
    k, n = sum(o.kind == kind for o in outcomes), len(outcomes)
    lo, hi = wilson(k, n)
    return {"rate": k / n, "k": k, "n": n, "ci95": [round(lo, 4), round(hi, 4)]}


def simulate(runs: int, seed: int) -> dict[str, dict[str, list[Outcome]]]:
    judges = {
        "judge": RolloutJudge(margin=MARGIN, confidence=CONFIDENCE),
        "gaussian_mixture": RolloutJudge(
            margin=MARGIN, confidence=CONFIDENCE, method="gaussian_mixture"
        ),
        "naive": RolloutJudge(margin=MARGIN, confidence=CONFIDENCE),
    }
    regression_judge = RolloutJudge(margin=MARGIN, confidence=CONFIDENCE, metric="mae")
    out: dict[str, dict[str, list[Outcome]]] = {s: {k: [] for k in judges} for s in SCENARIOS}
    out["regression"] = {"judge": [], "naive": []}
    out["naive_once"] = {"worse": [], "equal": []}
    once = int(NAIVE_ONCE_AT_H)
    for r in range(runs):
        rng = np.random.default_rng([seed, r])
        arrived = arrivals(rng)
        total = int(arrived[-1])
        for scenario, accuracy in SCENARIOS.items():
            d = zero_one_differences(total, accuracy, rng)
            for name, judge in judges.items():
                seq = naive_sequence(d) if name == "naive" else judge.sequence(d)
                out[scenario][name].append(run_trial(judge, seq, arrived))
                if name == "naive" and scenario in out["naive_once"]:
                    v = judge.verdict_at(seq, int(arrived[once - 1]))
                    kind = {"non_inferior": "promoted", "worse": "worse"}.get(
                        v.verdict, "undecided"
                    )
                    out["naive_once"][scenario].append(Outcome(None, kind, once, v.n))
        d = regression_differences(total, rng)
        out["regression"]["judge"].append(
            run_trial(regression_judge, regression_judge.sequence(d), arrived)
        )
        out["regression"]["naive"].append(run_trial(regression_judge, naive_sequence(d), arrived))
    return out


def time_uniform_misses(runs: int, seed: int, n: int = 10_000) -> dict[str, dict[str, float]]:
    """Share of streams of ``n`` 0-1 differences (mean exactly ``margin``) whose upper bound
    ever falls below the mean, looked at after every outcome, by disagreement rate."""
    out: dict[str, dict[str, float]] = {}
    for share in (0.01, 0.03, 0.1, 0.3):
        up, down = (share + MARGIN) / 2, (share - MARGIN) / 2
        misses = dict.fromkeys(("empirical_bernstein", "gaussian_mixture"), 0)
        for r in range(runs):
            u = np.random.default_rng([seed, r, int(share * 1000)]).random(n)
            d = np.where(u < up, 1.0, np.where(u < up + down, -1.0, 0.0))
            for method in misses:
                judge = RolloutJudge(margin=MARGIN, confidence=CONFIDENCE, method=method)  # type: ignore[arg-type]
                misses[method] += bool(np.any(judge.sequence(d).upper < MARGIN))
        out[f"{share:g}"] = {k: v / runs for k, v in misses.items()}
    return out


def median(values: list[int]) -> float | None:
    return float(np.median(values)) if values else None


def live_figures(enabled: bool) -> dict[str, Any]:
    empty = {"swap_failures": None, "crash_steps_consistent": None}
    if not enabled:
        return empty
    try:
        module = importlib.import_module("rollout_live")
    except ModuleNotFoundError as exc:
        if exc.name != "rollout_live":
            raise
        print("bench/rollout_live.py is missing: swap_failures and crash_steps_consistent null")
        return empty
    figures = module.real_component_figures()
    return {key: figures.get(key) for key in empty}


def main() -> None:
    global RHO
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500, help="simulations per scenario")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--no-live", action="store_true", help="skip bench/rollout_live.py")
    parser.add_argument("--rho", type=float, default=RHO, help="latent difficulty loading")
    args = parser.parse_args()
    RHO = args.rho
    started = time.perf_counter()
    shares = {k: sum(discordance(a)) for k, a in SCENARIOS.items()}
    print(
        f"{args.runs} simulations per scenario, rho {RHO}; the pair disagrees on "
        + ", ".join(f"{v:.1%} ({k})" for k, v in shares.items())
    )
    out = simulate(args.runs, args.seed)
    labels_48 = [o.labels for o in out["naive_once"]["worse"]]
    print(f"paired outcomes at 48 h: median {median(labels_48)}")
    result: dict[str, Any] = {"runs": args.runs, "rho": RHO, "disagreement": shares}
    for name, key in (("judge", "false_promotion_rate"),
                      ("naive", "naive_peeking_false_promotion_rate"),
                      ("gaussian_mixture", "gaussian_mixture_false_promotion_rate")):  # fmt: skip
        figure = rate(out["worse"][name], "promoted")
        result[key] = figure["rate"]
        print(f"worse by the margin, {name:16}: promoted {figure['k']}/{figure['n']} = "
              f"{figure['rate']:.2%} {figure['ci95']}")  # fmt: skip
        result[key + "_ci95"] = figure["ci95"]
    once = rate(out["naive_once"]["worse"], "promoted")
    result["naive_once_false_promotion_rate"] = once["rate"]
    print(
        f"worse by the margin, naive once @48 h: promoted {once['k']}/{once['n']} = "
        f"{once['rate']:.2%}"
    )
    for name, key in (("judge", "false_rollback_rate"),
                      ("naive", "naive_peeking_false_rollback_rate"),
                      ("gaussian_mixture", "gaussian_mixture_false_rollback_rate")):  # fmt: skip
        figure = rate(out["equal"][name], "worse")
        inconclusive = rate(out["equal"][name], "inconclusive")["rate"]
        promoted = rate(out["equal"][name], "promoted")["rate"]
        result[key] = figure["rate"]
        print(f"equal challenger,    {name:16}: rolled back as worse {figure['k']}/{figure['n']}"
              f" = {figure['rate']:.2%}, promoted {promoted:.1%}, inconclusive "
              f"{inconclusive:.1%}")  # fmt: skip
    for name, prefix in (
        ("judge", ""),
        ("naive", "naive_"),
        ("gaussian_mixture", "gaussian_mixture_"),
    ):
        outcomes = out["better"][name]
        promoted = [o for o in outcomes if o.kind == "promoted"]
        result[prefix + "promotion_rate"] = len(promoted) / len(outcomes)
        result[prefix + "median_labels_to_decision"] = median([o.labels for o in promoted])
        result[prefix + "median_hours_to_decision"] = median([o.hour for o in promoted])
        print(f"better by 2 x margin, {name:15}: promoted {len(promoted)}/{len(outcomes)}, median "
              f"{result[prefix + 'median_labels_to_decision']} labels, "
              f"{result[prefix + 'median_hours_to_decision']} h")  # fmt: skip
    for name, key in (("judge", "regression_false_promotion_rate"),
                      ("naive", "regression_naive_peeking_false_promotion_rate")):  # fmt: skip
        figure = rate(out["regression"][name], "promoted")
        result[key] = figure["rate"]
        print(f"regression, MAE worse by the margin, {name}: promoted {figure['k']}/"
              f"{figure['n']} = {figure['rate']:.2%} {figure['ci95']}")  # fmt: skip
    misses = time_uniform_misses(args.runs, args.seed)
    for share, figures in misses.items():
        print(
            f"upper bound ever below the mean, disagreement {share}, every outcome to 10,000: "
            + ", ".join(f"{k} {v:.2%}" for k, v in figures.items())
        )
    result["time_uniform_miss_by_disagreement"] = misses
    result["nominal_one_sided"] = (1 - CONFIDENCE) / 2
    result["simulation_s"] = round(time.perf_counter() - started, 1)
    result.update(live_figures(not args.no_live))
    print(f"simulations took {result['simulation_s']} s")
    print("RESULT " + json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
