"""Measured error rates and cost of the champion/challenger gate (``training.gate``).

A champion/challenger pair is simulated directly as paired predictions of a binary model on
the same holdout rows (no servers): row ``i`` has a latent difficulty ``u_i ~ N(0, 1)`` shared
by both models, and model ``m`` is right when ``rho u_i + sqrt(1 - rho²) e_mi < Φ⁻¹(acc_m)``
(``rho = 0.7``), so its true accuracy is exactly ``acc_m`` and the two models' errors are
correlated as real retrained models' are (both miss the hard rows). Each model's top
probability is ``P(right | u_i)``, floored just above 1/2 so that it names the predicted class.
The champion's true accuracy is 0.85; the gate runs with the project's defaults (metric
accuracy, confidence 0.95, margin 0.01, 2,000 resamples, Brier and ECE guard rails).

* (a) challenger truly worse by the margin (0.84): ``false_promotion_rate`` = share passed
  (goal ≤ 1 - confidence = 5 %; the rule's nominal rate is 2.5 %, the interval being
  two-sided); ``point_gate_false_promotion_rate``: a TFX/MLflow-style point gate on the same
  data (passes when the challenger's point accuracy ≥ the champion's - margin);
* (b) challenger truly better by 2 x margin (0.87): ``power`` = share passed (goal ≥ 80 % at
  the demo's holdout size, ~1,500 rows); unless the power's Wilson lower bound clears the goal,
  ``power_goal_rows`` is the first holdout size (2,000, 3,000, ...) whose power does;
* ``gate_100k_s``: one ``decide`` on 100,000 rows, no slices (goal ≤ 1 s), and
  ``gate_100k_slices_s`` with two slice columns (a 5-level category, a numeric in 4 bins).

Ends with one ``RESULT {json}`` line. Run: ``.venv/bin/python bench/gate.py`` (``--runs`` to
scale; ``--runs 500`` takes a few minutes on the shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from decayguard.monitoring.task_base import ModelOutputs
from decayguard.monitoring.tasks import task_for
from decayguard.training.gate import ChampionChallengerGate, PairedSample

TASK = task_for("binary", classes=["0", "1"])
CHAMPION_ACCURACY, MARGIN, RHO, CONFIDENCE = 0.85, 0.01, 0.7, 0.95
DEMO_ROWS, SMALL_ROWS = 1_500, 500
POWER_GOAL, TIME_GOAL_S = 0.80, 1.0
FALSE_PROMOTION_GOAL = 1 - CONFIDENCE


def simulate(n: int, challenger_accuracy: float, rng: np.random.Generator) -> PairedSample:
    """One holdout scored by both models (see the module docstring)."""
    u = rng.standard_normal(n)
    y = rng.random(n) < 0.4
    spread = math.sqrt(1 - RHO**2)
    outputs: list[ModelOutputs] = []
    for accuracy in (CHAMPION_ACCURACY, challenger_accuracy):
        a = stats.norm.ppf(accuracy)
        right = RHO * u + spread * rng.standard_normal(n) < a
        top = np.clip(stats.norm.cdf((a - RHO * u) / spread), 0.5 + 1e-6, 1 - 1e-9)
        predicted = np.where(right, y, ~y)
        outputs.append(TASK.outputs_from_scores(np.where(predicted, top, 1 - top)))
    slices = pd.DataFrame(
        {"region": rng.choice(list("abcde"), n), "amount": rng.gamma(2.0, 50.0, n)}
    )
    labels = np.where(y, "1", "0").astype(object)
    return PairedSample(TASK, labels, outputs[0], outputs[1], slices, np.full(n, "holdout"))


def point_gate(sample: PairedSample) -> bool:
    """Passes when the challenger's point accuracy is at least the champion's minus the margin."""
    truth = TASK.labels_array(sample.y_true)
    champion = float(np.mean(sample.champion.predictions == truth))
    challenger = float(np.mean(sample.challenger.predictions == truth))
    return challenger >= champion - MARGIN


def wilson(k: int, n: int) -> tuple[float, float]:
    z = stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_rates(n: int, challenger_accuracy: float, runs: int, seed: int) -> tuple[float, float]:
    """Shares of ``runs`` simulations passed by the gate and by the point gate."""
    gate = ChampionChallengerGate(metric="accuracy", confidence=CONFIDENCE)
    passed = point = 0
    for run in range(runs):
        sample = simulate(n, challenger_accuracy, np.random.default_rng([seed, n, run]))
        passed += gate.decide(sample).passed
        point += point_gate(sample)
    return passed / runs, point / runs


def show(name: str, value: float, runs: int, goal: float, relation: str) -> None:
    lower, upper = wilson(round(value * runs), runs)
    print(
        f"{name:<44} {value:6.3f} [{lower:.3f}, {upper:.3f}]  "
        f"goal {relation} {goal:.2f}, ratio {value / goal:5.2f}"
    )


def timed_decide(slices: tuple[str, ...], repeats: int = 3) -> float:
    sample = simulate(100_000, CHAMPION_ACCURACY, np.random.default_rng(1))
    gate = ChampionChallengerGate(metric="accuracy", slices=slices)
    gate.decide(sample)  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gate.decide(sample)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    start, cpu = time.perf_counter(), time.process_time()
    result: dict[str, float | int | None] = {"runs": args.runs}
    worse, better = CHAMPION_ACCURACY - MARGIN, CHAMPION_ACCURACY + 2 * MARGIN
    with threadpool_limits(1):
        for n in (DEMO_ROWS, SMALL_ROWS):
            suffix = "" if n == DEMO_ROWS else f"_{n}"
            fpr, point_fpr = pass_rates(n, worse, args.runs, args.seed)
            power, _ = pass_rates(n, better, args.runs, args.seed + 1)
            print(f"\n{n} holdout rows, {args.runs} runs per world")
            show("false_promotion_rate (truly worse by margin)", fpr, args.runs,
                 FALSE_PROMOTION_GOAL, "<=")  # fmt: skip
            show("point_gate_false_promotion_rate", point_fpr, args.runs,
                 FALSE_PROMOTION_GOAL, "<=")  # fmt: skip
            print(f"{'  point gate / gate':<44} {point_fpr / max(fpr, 1 / args.runs):6.1f}x")
            show("power (truly better by 2 x margin)", power, args.runs, POWER_GOAL, ">=")
            result[f"false_promotion_rate{suffix}"] = fpr
            result[f"point_gate_false_promotion_rate{suffix}"] = point_fpr
            result[f"power{suffix}"] = power
        # the demo size reaches the goal only if the power's Wilson lower bound does
        reached = wilson(round(float(result["power"] or 0) * args.runs), args.runs)[0] >= POWER_GOAL
        result["power_goal_rows"] = DEMO_ROWS if reached else None
        if not reached:
            for n in (2_000, 3_000, 4_000, 6_000, 8_000):
                power, _ = pass_rates(n, better, max(args.runs // 2, 50), args.seed + 2)
                print(f"power at {n} rows: {power:.3f}")
                if power >= POWER_GOAL:
                    result["power_goal_rows"] = n
                    break
        print()
        for key, slices in (("gate_100k_s", ()), ("gate_100k_slices_s", ("region", "amount"))):
            seconds = timed_decide(slices)
            result[key] = round(seconds, 3)
            print(f"{key:<44} {seconds:6.3f} s  goal <= {TIME_GOAL_S:.1f} s, "
                  f"ratio {seconds / TIME_GOAL_S:5.2f}")  # fmt: skip
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["cpu_seconds"] = round(time.process_time() - cpu, 1)
    print(f"\n{result['seconds']} s wall, {result['cpu_seconds']} s CPU")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
