"""The rollout judge (pure): is the challenger, on live traffic, no worse than the champion?

The judge works on the paired per-request loss differences ``d = loss(challenger) -
loss(champion)`` (positive: the challenger is worse) of the requests both arms scored whose
truth is known, in the order the truth arrived. The release flow decides every run, so the
interval must stay valid however often it is looked at: a fixed-horizon interval recomputed
every run promotes a truly worse challenger several times more often than its nominal rate
(``bench/rollout.py`` measures both). The judge uses a *confidence sequence*, a sequence of
intervals that covers the mean at all times at once with probability ``confidence``:

- ``empirical_bernstein`` (exact, for bounded losses without weights: the 0-1 loss of the
  accuracy-type metrics): the predictable plug-in empirical-Bernstein confidence sequence
  (PrPl-EB) of Waudby-Smith & Ramdas, "Estimating means of bounded random variables by
  betting", JRSS B 86 (2024), with their bets ``λ_t = min(sqrt(2 log(2/α) / (σ̂²_{t-1} t
  log(1 + t))), 1/2)``, valid at every sample size;
- ``gaussian_mixture`` (asymptotic, for any loss and for importance-weighted reviews): the
  Gaussian-mixture boundary with a plug-in variance of Waudby-Smith, Arnold, Wu & Ramdas,
  "Time-uniform central limit theory and asymptotic confidence sequences", Ann. Statist. 52
  (2024), each side the one-sided (half-normal) mixture of Howard, Ramdas, McAuliffe & Sekhon,
  "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49 (2021),
  tuned for ``optimise_at`` outcomes; no bound before ``burn_in`` outcomes with some spread.

Each side errs with probability at most ``(1 - confidence) / 2``, whenever it is looked at:
a challenger truly worse by ``margin`` is promoted at most that often, an equal one rolled
back at most that often. The bounds are intersected over every prefix (the running
intersection), so :meth:`RolloutJudge.decide` on a prefix gives the verdict a run at that
point gave. ``worse`` when the lower bound is above 0, ``non_inferior`` when the upper bound
is below ``margin``, else ``undecided``.

>>> judge = RolloutJudge(margin=0.01)
>>> judge.decide([0.0] * 50 + [1.0, -1.0] * 5).verdict
'undecided'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from decayguard.errors import DecayguardError
from decayguard.monitoring.task_base import ModelOutputs, ModelTask
from decayguard.release.stages import Action, Stage
from decayguard.serving.arm_metrics import ArmHealth
from decayguard.training.gate import PairedSample, row_losses

__all__ = [
    "ConfidenceSequence",
    "EmpiricalBernsteinCS",
    "GaussianMixtureCS",
    "GuardVerdict",
    "JudgeVerdict",
    "RolloutJudge",
    "Step",
    "guard",
    "loss_name",
    "next_step",
    "request_losses",
]

Verdict = Literal["worse", "non_inferior", "undecided"]
Method = Literal["auto", "empirical_bernstein", "gaussian_mixture"]
Floats = NDArray[np.float64]

LOSS_NAMES = {"mae": "absolute error", "rmse": "squared error", "log_loss": "log loss",
              "mape": "absolute percentage error"}  # fmt: skip
"""Per-request loss of each metric; every other (classifier) metric compares 0-1 losses."""


def loss_name(metric: str) -> str:
    """The per-request loss the judge compares for ``metric`` (``0-1 loss`` for accuracy and
    the classifier metrics that are no mean of per-request losses)."""
    return LOSS_NAMES.get(metric, "0-1 loss")


def _fig(value: float) -> str:  # +0.031, -12.345, +0.00042, nan
    if not np.isfinite(value):
        return "nan" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    return f"{value:+.3f}" if value == 0 or abs(value) >= 0.01 else f"{value:+.2g}"


def _json(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class JudgeVerdict:
    verdict: Verdict
    n: int
    """Paired outcomes the verdict rests on."""
    mean: float
    lower: float
    upper: float
    """The confidence sequence's bounds on the mean difference (running intersection)."""
    margin: float
    confidence: float
    metric: str
    reason: str
    method: str = ""
    """The confidence sequence: ``empirical_bernstein`` or ``gaussian_mixture``."""
    loss: str = ""
    """The per-request loss compared (``0-1 loss``, ``absolute error``, ...)."""

    def to_dict(self) -> dict[str, Any]:  # strict JSON (non-finite -> None)
        out = asdict(self)
        for key in ("mean", "lower", "upper", "margin"):
            out[key] = _json(out[key])
        return out


def request_losses(
    task: ModelTask,
    metric: str,
    y_true: NDArray[Any],
    champion: ModelOutputs,
    challenger: ModelOutputs,
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    """Per-request losses of both arms for ``metric`` and the loss's name (``0-1`` for
    accuracy and the metrics that are no mean of per-row losses; ``absolute error``...)."""
    task.higher_is_better(metric)  # a MonitoringError naming the task's metrics
    n = len(y_true)
    labels, source = np.asarray(y_true, dtype=object), np.full(n, "live", dtype=object)
    sample = PairedSample(task, labels, champion, challenger, pd.DataFrame(index=range(n)), source)
    loss_champion, loss_challenger = row_losses(sample, metric)
    return loss_champion, loss_challenger, loss_name(metric)


@dataclass(frozen=True)
class ConfidenceSequence:
    """Bounds on the mean after each prefix ``1..n`` (running intersection), and its means."""

    mean: Floats
    lower: Floats
    upper: Floats
    method: str

    @property
    def n(self) -> int:
        return len(self.mean)


class EmpiricalBernsteinCS:
    """Waudby-Smith & Ramdas's PrPl-EB confidence sequence for values in ``[-bound, bound]``
    (exact at every sample size); :meth:`bounds` gives each prefix's raw two-sided bounds."""

    name = "empirical_bernstein"

    def __init__(self, *, confidence: float, bound: float = 1.0, truncation: float = 0.5) -> None:
        self.confidence, self.bound, self.truncation = confidence, bound, truncation

    def bounds(self, x: Floats) -> tuple[Floats, Floats]:
        if np.any(np.abs(x) > self.bound * (1 + 1e-12)):
            raise DecayguardError(f"differences outside [-{self.bound}, {self.bound}]")
        width = 2 * self.bound
        y = (x + self.bound) / width  # in [0, 1]
        log_term = np.log(2 / (1 - self.confidence))  # each side at (1 - confidence) / 2
        t = np.arange(1, len(y) + 1, dtype=np.float64)
        mu = (0.5 + np.cumsum(y)) / (t + 1)  # regularised mean after t (one fake 1/2)
        sigma2 = (0.25 + np.cumsum((y - mu) ** 2)) / (t + 1)
        mu_prev, sigma2_prev = np.append(0.5, mu[:-1]), np.append(0.25, sigma2[:-1])
        lam = np.minimum(np.sqrt(2 * log_term / (sigma2_prev * t * np.log1p(t))), self.truncation)
        psi = -np.log1p(-lam) - lam
        lam_sum = np.cumsum(lam)
        centre = np.cumsum(lam * y) / lam_sum
        half = (log_term + np.cumsum((y - mu_prev) ** 2 * psi)) / lam_sum
        lower, upper = np.maximum(centre - half, 0.0), np.minimum(centre + half, 1.0)
        return lower * width - self.bound, upper * width - self.bound


class GaussianMixtureCS:
    """The asymptotic confidence sequence: plug-in standard deviation times the one-sided
    normal-mixture boundary, each side at ``(1 - confidence) / 2``; :meth:`bounds` gives each
    prefix's raw two-sided bounds (infinite before ``burn_in`` outcomes with some spread)."""

    name = "gaussian_mixture"

    def __init__(self, *, confidence: float, optimise_at: int = 1000, burn_in: int = 30) -> None:
        self.confidence, self.optimise_at, self.burn_in = confidence, optimise_at, burn_in

    def radius(self, t: Floats) -> Floats:
        """The boundary in standard deviations of the mean after ``t`` outcomes: ``z_t
        sqrt(t + 1/ρ²) / t`` where ``z²/2 + log Φ(z) = log(sqrt(1 + tρ²) / α)`` (the
        half-normal mixture martingale reaching ``2/α``)."""
        alpha = 1 - self.confidence
        rho2 = (-2 * np.log(alpha) + np.log1p(-2 * np.log(alpha))) / self.optimise_at
        level = np.log(np.sqrt(1 + t * rho2) / alpha)
        z = np.sqrt(2 * level)  # below the root: Newton on a convex increasing function
        for _ in range(50):
            log_phi = special.log_ndtr(z)
            step = (z * z / 2 + log_phi - level) / (
                z + np.exp(-z * z / 2 - log_phi) / np.sqrt(2 * np.pi)
            )
            z = z - step
            if np.max(np.abs(step)) < 1e-12:
                break
        radius: Floats = z * np.sqrt(t + 1 / rho2) / t
        return radius

    def bounds(self, x: Floats) -> tuple[Floats, Floats]:
        t = np.arange(1, len(x) + 1, dtype=np.float64)
        shifted = x - (x[0] if len(x) else 0.0)  # less cancellation in the running variance
        mean = np.cumsum(shifted) / t
        var = np.maximum(np.cumsum(shifted**2) / t - mean**2, 0.0)
        half = np.sqrt(var) * self.radius(t)
        ready = (t >= self.burn_in) & (var > 0)  # var > 0: two different values seen
        centre = mean + (x[0] if len(x) else 0.0)
        return np.where(ready, centre - half, -np.inf), np.where(ready, centre + half, np.inf)


class RolloutJudge:
    """One verb: :meth:`decide` on the paired differences so far (arrival order).

    ``method="auto"``: ``empirical_bernstein`` for the 0-1 loss without weights (its values
    are in ``[-1, 1]``), ``gaussian_mixture`` for other losses or importance weights other
    than 1. Pass ``weights`` only when the trial uses reviews: a stream whose first weight
    other than 1 arrives mid-trial changes method there, and its running intersection
    starts over.
    """

    def __init__(
        self,
        *,
        margin: float,
        confidence: float = 0.95,
        metric: str = "accuracy",
        method: Method = "auto",
        optimise_at: int = 1000,
        burn_in: int = 30,
    ) -> None:
        self.margin, self.confidence, self.metric = margin, confidence, metric
        self.method, self.optimise_at, self.burn_in = method, optimise_at, burn_in

    def decide(self, differences: ArrayLike, weights: ArrayLike | None = None) -> JudgeVerdict:
        """The verdict after all of ``differences`` (``weights``: importance weights of
        reviewed requests, ``mean(w·d)`` estimating the traffic's mean; ``None``: 1)."""
        seq = self.sequence(differences, weights)
        return self.verdict_at(seq, seq.n)

    def sequence(
        self, differences: ArrayLike, weights: ArrayLike | None = None
    ) -> ConfidenceSequence:
        """The confidence sequence after every prefix (vectorised: ~10 ms for 100,000)."""
        d = np.asarray(differences, dtype=np.float64)
        if d.ndim != 1 or not np.all(np.isfinite(d)):
            raise DecayguardError("differences: a one-dimensional array of finite numbers")
        unweighted = weights is None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != d.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise DecayguardError(
                    f"weights: {d.size} finite non-negative numbers (one per difference)"
                )
            unweighted = bool(np.all(w == 1.0))
            d = d * w
        method = self.method
        if method == "auto":
            bounded = loss_name(self.metric) == "0-1 loss" and unweighted
            method = "empirical_bernstein" if bounded else "gaussian_mixture"
        cs: EmpiricalBernsteinCS | GaussianMixtureCS
        if method == "empirical_bernstein":
            cs = EmpiricalBernsteinCS(confidence=self.confidence)
        else:
            cs = GaussianMixtureCS(confidence=self.confidence, optimise_at=self.optimise_at,
                                   burn_in=self.burn_in)  # fmt: skip
        lower, upper = cs.bounds(d)
        mean = np.cumsum(d) / np.arange(1, d.size + 1)
        return ConfidenceSequence(mean, np.maximum.accumulate(lower), np.minimum.accumulate(upper),
                                  cs.name)  # fmt: skip

    def verdict_at(self, seq: ConfidenceSequence, n: int) -> JudgeVerdict:
        """The verdict a run that had seen the first ``n`` outcomes of ``seq`` gave."""
        if n == 0:
            return self.verdict_of(0, float("nan"), -np.inf, np.inf, seq.method)
        k = n - 1
        return self.verdict_of(n, float(seq.mean[k]), float(seq.lower[k]), float(seq.upper[k]),
                               seq.method)  # fmt: skip

    def verdict_of(
        self, n: int, mean: float, lower: float, upper: float, method: str
    ) -> JudgeVerdict:
        """The rule on given bounds: ``worse`` above 0, ``non_inferior`` below ``margin``."""
        loss = loss_name(self.metric)
        figures = f"Δ{loss} {_fig(mean)} [{_fig(lower)}, {_fig(upper)}]"
        on = f"on {n} paired outcomes"
        verdict: Verdict
        if n == 0:
            verdict, reason = "undecided", "undecided: no paired outcomes yet"
        elif lower > 0:
            verdict, reason = "worse", f"challenger worse: {figures} > 0 {on}"
        elif upper < self.margin:
            verdict = "non_inferior"
            reason = f"challenger non-inferior: {figures} < margin {_fig(self.margin)} {on}"
        else:
            verdict = "undecided"
            reason = (f"undecided: {figures} neither above 0 nor below the margin "
                      f"{_fig(self.margin)} {on}")  # fmt: skip
        return JudgeVerdict(verdict, n, mean, lower, upper, self.margin, self.confidence,
                            self.metric, reason, method, loss)  # fmt: skip


def _health(arm: ArmHealth | None) -> dict[str, Any] | None:
    if arm is None:
        return None
    p99 = arm.p99_ms
    out = {**asdict(arm), "error_rate": arm.error_rate}
    out["p99_ms"] = None if p99 is None or not np.isfinite(p99) else float(p99)
    return out


@dataclass(frozen=True)
class GuardVerdict:
    breached: bool
    reason: str
    champion: ArmHealth | None
    challenger: ArmHealth | None

    def to_dict(self) -> dict[str, Any]:
        arms = {"champion": _health(self.champion), "challenger": _health(self.challenger)}
        return {"breached": self.breached, "reason": self.reason, **arms}


def _ms(value: float) -> str:
    return f"{value:.3g} ms"


def guard(
    champion: ArmHealth | None,
    challenger: ArmHealth | None,
    *,
    max_error_rate: float,
    max_latency_ratio: float,
    max_latency_ms: float,
    min_requests: int,
) -> GuardVerdict:
    """The infrastructure guard: breach when the challenger fails or is slow, whatever the
    labels say.

    Breach once the challenger scored ``min_requests``, when its error rate is above
    ``max_error_rate`` and above the champion's, or its p99 latency above ``max_latency_ms``
    and above ``max_latency_ratio`` times the champion's. Without the champion's figures (no
    health reported for it) its error rate counts as 0 and the latency limit is
    ``max_latency_ms`` alone: the guard fails safe, towards the champion.
    """

    def verdict(breached: bool, reason: str) -> GuardVerdict:
        return GuardVerdict(breached, reason, champion, challenger)

    if challenger is None:
        return verdict(False, "no serving health of the challenger yet")
    if challenger.requests < min_requests:
        return verdict(False, f"challenger scored {challenger.requests} requests < "
                              f"min_requests {min_requests}: the guard waits")  # fmt: skip
    breaches: list[str] = []
    rate, base_rate = challenger.error_rate, champion.error_rate if champion else 0.0
    if rate > max_error_rate and rate > base_rate:
        breaches.append(
            f"challenger error rate {rate:.2%} ({challenger.errors} of {challenger.requests}) > "
            f"max_error_rate {max_error_rate:.2%} and > the champion's {base_rate:.2%}"
        )
    p99 = challenger.p99_ms
    base_p99 = champion.p99_ms if champion is not None else None
    if p99 is not None and p99 > max_latency_ms:
        if base_p99 is None:
            breaches.append(f"challenger p99 {_ms(p99)} > max_latency_ms {max_latency_ms:g} "
                            "(no champion latency to compare)")  # fmt: skip
        elif p99 > max_latency_ratio * base_p99:
            breaches.append(
                f"challenger p99 {_ms(p99)} > max_latency_ms {max_latency_ms:g} and > "
                f"{max_latency_ratio:g} x the champion's {_ms(base_p99)}"
            )
    if breaches:
        return verdict(True, "infrastructure breach: " + "; ".join(breaches))
    p99_text = "n/a" if p99 is None else _ms(p99)
    return verdict(False, f"challenger healthy: error rate {rate:.2%}, p99 {p99_text} on "
                          f"{challenger.requests} requests")  # fmt: skip


@dataclass(frozen=True)
class Step:
    """What the policy says to do now: an action (``None``: wait) and why."""

    action: Action | None
    reason: str


def _h(hours: float) -> str:
    return f"{hours:.1f} h"


def next_step(
    stage: Stage,
    *,
    hours_in_stage: float,
    hours_in_trial: float,
    verdict: JudgeVerdict | None,
    guard_verdict: GuardVerdict | None,
    shadow: bool,
    canary_share: float,
    min_shadow_hours: float,
    canary_hours: float,
    min_labels: int,
    max_hours: float,
    auto_promote: bool,
) -> Step:
    """The rollout policy (pure), evaluated every run for the candidate in ``stage``.

    ``validated``: start the shadow (the canary when ``shadow`` is off; promote when both are
    off). In ``shadow`` or ``canary``, in this order: a guard breach rolls back; a ``worse``
    verdict rolls back; once the stage's hours, ``min_labels`` paired outcomes and a
    ``non_inferior`` verdict are all there the candidate moves on (shadow → canary, or
    promotion when ``canary_share`` is 0; canary → promotion), a promotion waiting for a
    person when ``auto_promote`` is off; after ``max_hours`` in the trial without that, the
    trial ends "inconclusive" (roll back: the champion stays). Otherwise it waits and says
    for what.
    """
    stage = Stage(stage)
    if stage is Stage.REGISTERED:
        return Step(None, "waiting for the gate: a registered version has not been validated")
    if stage is Stage.VALIDATED:
        if shadow:
            return Step(Action.START_SHADOW, "validated by the gate: shadow starts")
        if canary_share > 0:
            return Step(Action.START_CANARY, "validated by the gate, shadow off: canary starts")
        if not auto_promote:
            return Step(None, "waiting for a person: shadow and canary are off and "
                              "auto_promote is false")  # fmt: skip
        return Step(Action.PROMOTE, "validated by the gate, shadow and canary off: promoted")
    if stage not in (Stage.SHADOW, Stage.CANARY):
        return Step(
            None, f"nothing to do: a {stage.value.replace('_', ' ')} version is not on trial"
        )
    if guard_verdict is not None and guard_verdict.breached:
        return Step(Action.ROLL_BACK, guard_verdict.reason)
    if verdict is not None and verdict.verdict == "worse":
        return Step(Action.ROLL_BACK, verdict.reason)
    in_shadow = stage is Stage.SHADOW
    least = min_shadow_hours if in_shadow else canary_hours
    missing: list[str] = []
    if hours_in_stage < least:
        key = "min_shadow_hours" if in_shadow else "canary_hours"
        missing.append(f"{stage.value} {_h(hours_in_stage)} < {key} {least:g}")
    n = verdict.n if verdict is not None else 0
    if n < min_labels:
        missing.append(f"{n} paired outcomes < min_labels {min_labels}")
    if verdict is None:
        missing.append("no verdict of the judge yet")
    elif verdict.verdict != "non_inferior":
        missing.append(verdict.reason)
    if not missing:
        assert verdict is not None
        if in_shadow and canary_share > 0:
            return Step(Action.START_CANARY, f"shadow done: {verdict.reason}")
        if auto_promote:
            return Step(Action.PROMOTE, verdict.reason)
        return Step(None, f"waiting for a person: {verdict.reason} (auto_promote is false)")
    if hours_in_trial >= max_hours:
        return Step(Action.ROLL_BACK, f"inconclusive after {hours_in_trial:.0f} h (max_hours "
                                      f"{max_hours:g}): " + "; ".join(missing))  # fmt: skip
    return Step(None, "waiting: " + "; ".join(missing))
