"""Decision rules: multiple-testing corrections, the drift rule and the decay rules.

* :class:`DriftDecisionRule` — a feature drifts only when its test is significant after a
  multiple-testing correction across features (Benjamini–Hochberg by default) **and** its effect
  size reaches a threshold. The effect-size threshold stops huge windows from flagging negligible
  shifts; significance, and comparing the effect's finite-sample *lower bound* (where the method
  has one, as KS does) with the threshold, stop small windows from flagging noise.
* :class:`PerformanceThresholdRule` — "below the threshold" only when the whole confidence
  interval is on the wrong side of it.
* :class:`CusumDecayTest` — a one-sided CUSUM over windows of the standardised deficit
  ``(threshold - estimate) / standard error``; it alarms on a persistent small deficit that no
  single window proves. Its false-alarm rate is measured in ``tests/monitoring``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from decayguard.monitoring.errors import MonitoringError
from decayguard.monitoring.results import (
    DecayDecision,
    DriftTestResult,
    FeatureDrift,
    MetricEstimate,
)

__all__ = [
    "CORRECTIONS",
    "BenjaminiHochberg",
    "Bonferroni",
    "CusumDecayTest",
    "DriftDecisionRule",
    "Holm",
    "MultipleTestingCorrection",
    "NoCorrection",
    "PerformanceThresholdRule",
    "correction",
    "cusum_statistics",
]

HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
    "mae": False,
    "rmse": False,
    "mape": False,
}


class MultipleTestingCorrection(ABC):
    """Turns p-values into adjusted p-values; compare those with alpha."""

    name: ClassVar[str]

    @abstractmethod
    def adjust(self, p_values: NDArray[np.float64]) -> NDArray[np.float64]: ...


class BenjaminiHochberg(MultipleTestingCorrection):
    """Step-up FDR control (the numbers of ``scipy.stats.false_discovery_control``)."""

    name = "benjamini_hochberg"

    def adjust(self, p_values: NDArray[np.float64]) -> NDArray[np.float64]:
        m = p_values.size
        if m == 0:
            return p_values.copy()
        order = np.argsort(p_values)
        scaled = p_values[order] * m / np.arange(1, m + 1)
        adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
        out = np.empty(m)
        out[order] = np.minimum(adjusted, 1.0)
        return out


class Bonferroni(MultipleTestingCorrection):
    name = "bonferroni"

    def adjust(self, p_values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.minimum(p_values * p_values.size, 1.0)


class Holm(MultipleTestingCorrection):
    name = "holm"

    def adjust(self, p_values: NDArray[np.float64]) -> NDArray[np.float64]:
        m = p_values.size
        order = np.argsort(p_values)
        scaled = np.maximum.accumulate(p_values[order] * (m - np.arange(m)))
        out = np.empty(m)
        out[order] = np.minimum(scaled, 1.0)
        return out


class NoCorrection(MultipleTestingCorrection):
    name = "none"

    def adjust(self, p_values: NDArray[np.float64]) -> NDArray[np.float64]:
        return p_values.copy()


CORRECTIONS: dict[str, type[MultipleTestingCorrection]] = {
    c.name: c for c in (BenjaminiHochberg, Bonferroni, Holm, NoCorrection)
}


def correction(name: str) -> MultipleTestingCorrection:
    """A registered multiple-testing correction by name."""
    return _correction_named(name)


def _correction_named(name: str) -> MultipleTestingCorrection:
    try:
        return CORRECTIONS[name]()
    except KeyError as exc:
        raise MonitoringError(f"unknown correction {name!r}; known: {sorted(CORRECTIONS)}") from exc


class DriftDecisionRule:
    """Significant after correction across features, and a large enough effect.

    ``tests`` names the method whose p-value enters the correction for each feature kind;
    ``effects`` names the method whose effect size (against that method's threshold) decides.
    """

    def __init__(
        self,
        alpha: float = 0.05,
        correction: str = "benjamini_hochberg",
        tests: Mapping[str, str] | None = None,
        effects: Mapping[str, str] | None = None,
    ) -> None:
        self.alpha = alpha
        self.correction = correction
        self.tests = dict(tests or {"numeric": "ks", "categorical": "chi2"})
        self.effects = dict(effects or {"numeric": "ks", "categorical": "jensen_shannon"})

    def required_methods(self) -> set[str]:
        return set(self.tests.values()) | set(self.effects.values())

    def decide(
        self, kinds: Mapping[str, str], results: Mapping[str, Sequence[DriftTestResult]]
    ) -> tuple[FeatureDrift, ...]:
        """Apply the rule to every feature's results (``kinds`` maps feature to its kind)."""
        names = list(kinds)
        by_method = [{r.method: r for r in results[name]} for name in names]
        try:
            tests = [
                found[self.tests[kinds[name]]] for name, found in zip(names, by_method, strict=True)
            ]
            effects = [
                found[self.effects[kinds[name]]]
                for name, found in zip(names, by_method, strict=True)
            ]
        except KeyError as exc:
            raise MonitoringError(
                f"the drift rule needs method {exc.args[0]!r}, which was not computed"
            ) from exc
        raw = np.array([1.0 if t.p_value is None else t.p_value for t in tests])
        adjusted = _correction_named(self.correction).adjust(raw)
        decisions = []
        for i, (name, found, test, effect) in enumerate(
            zip(names, by_method, tests, effects, strict=True)
        ):
            p_adj = float(adjusted[i])
            significant = bool(test.p_value is not None and p_adj <= self.alpha)
            big = effect.gated_effect >= effect.threshold
            bound = (
                "" if effect.effect_lower is None else f" (lower bound {effect.effect_lower:.3g})"
            )
            drifted = significant and big
            verdict = "drifted" if drifted else "not drifted"
            if test.p_value is None:
                reason = f"not drifted: no {test.method} p-value (no values in the window)"
            else:
                reason = (
                    f"{verdict}: {test.method} p={raw[i]:.3g}, {self.correction}-adjusted "
                    f"{p_adj:.3g} {'<=' if significant else '>'} alpha {self.alpha:g}; "
                    f"{effect.method} effect {effect.effect_size:.3g}{bound} "
                    f"{'>=' if big else '<'} threshold {effect.threshold:g}"
                )
            flagged = tuple(
                _with_flag(r, significant and r.gated_effect >= r.threshold) for r in found.values()
            )
            decisions.append(
                FeatureDrift(
                    feature=name,
                    kind=kinds[name],
                    test=test.method,
                    p_value=test.p_value,
                    adjusted_p_value=float(p_adj) if test.p_value is not None else None,
                    effect_method=effect.method,
                    effect_size=effect.effect_size,
                    effect_threshold=effect.threshold,
                    drifted=drifted,
                    reason=reason,
                    results=flagged,
                )
            )
        return tuple(decisions)


def _with_flag(result: DriftTestResult, drifted: bool) -> DriftTestResult:
    return replace(result, drifted=bool(drifted))


def _higher_is_better(metric: str, given: bool | None) -> bool:
    if given is not None:
        return given
    try:
        return HIGHER_IS_BETTER[metric]
    except KeyError as exc:
        raise MonitoringError(
            f"say whether {metric!r} is higher-is-better (higher_is_better=...)"
        ) from exc


class PerformanceThresholdRule:
    """Decayed only when the confidence interval lies entirely on the wrong side of ``threshold``.

    >>> rule = PerformanceThresholdRule("accuracy", 0.9)
    >>> rule.decide(MetricEstimate("accuracy", 0.86, 0.84, 0.88, 5000, "wilson")).decayed
    True
    >>> rule.decide(MetricEstimate("accuracy", 0.86, 0.80, 0.91, 200, "wilson")).decayed
    False
    """

    def __init__(self, metric: str, threshold: float, higher_is_better: bool | None = None) -> None:
        self.metric = metric
        self.threshold = threshold
        self.higher_is_better = higher_is_better

    def decide(self, estimate: MetricEstimate) -> DecayDecision:
        higher = _higher_is_better(self.metric, self.higher_is_better)
        bound, side = (estimate.upper, "upper") if higher else (estimate.lower, "lower")
        worse = bound < self.threshold if higher else bound > self.threshold
        relation = ("<" if worse else ">=") if higher else (">" if worse else "<=")
        level = f"{estimate.confidence:.0%}"
        reason = (
            f"{'decayed' if worse else 'not decayed'}: {self.metric} {estimate.value:.4g}, "
            f"{side} {level} bound {bound:.4g} {relation} threshold {self.threshold:g} "
            f"({estimate.method}, n={estimate.n})"
        )
        return DecayDecision(
            decayed=bool(worse),
            metric=self.metric,
            threshold=self.threshold,
            reason=reason,
            value=estimate.value,
            lower=estimate.lower,
            upper=estimate.upper,
            rule="interval",
        )


def cusum_statistics(z: NDArray[np.float64], allowance: float) -> NDArray[np.float64]:
    """One-sided CUSUM path ``S_t = max(0, S_{t-1} + z_t - allowance)`` along the last axis."""
    out = np.empty_like(z, dtype=np.float64)
    s = np.zeros(z.shape[:-1])
    for t in range(z.shape[-1]):
        s = np.maximum(0.0, s + z[..., t] - allowance)
        out[..., t] = s
    return out


class CusumDecayTest:
    """Sequential decay test over windows (one verb: :meth:`update` returns ``self``).

    Each window contributes ``z = deficit / standard error``, the standard error being read off
    the estimate's interval. The alarm latches once the CUSUM exceeds ``limit``. With the
    defaults (allowance 0.5, limit 8) the measured false-alarm rate over 200 windows whose
    performance sits exactly at the threshold is about 1% (see the tests).
    """

    def __init__(
        self,
        metric: str,
        threshold: float,
        higher_is_better: bool | None = None,
        allowance: float = 0.5,
        limit: float = 8.0,
    ) -> None:
        self.metric = metric
        self.threshold = threshold
        self.higher_is_better = higher_is_better
        self.allowance = allowance
        self.limit = limit

    def update(self, estimate: MetricEstimate) -> Self:
        if not hasattr(self, "statistic_"):
            self.statistic_, self.n_windows_, self.decayed_ = 0.0, 0, False
            self.reason_ = "not decayed: no window yet"
        higher = _higher_is_better(self.metric, self.higher_is_better)
        quantile = float(stats.norm.ppf(0.5 + estimate.confidence / 2))
        se = max((estimate.upper - estimate.lower) / (2 * quantile), 1e-12)
        deficit = (self.threshold - estimate.value) if higher else (estimate.value - self.threshold)
        self.n_windows_ += 1
        if not (np.isfinite(deficit) and np.isfinite(se)):
            if not self.decayed_:
                self.reason_ = (
                    f"not decayed: window {self.n_windows_} has no {self.metric} estimate"
                )
            return self  # an undefined window neither adds evidence nor resets it
        self.statistic_ = max(0.0, self.statistic_ + deficit / se - self.allowance)
        if not self.decayed_ and self.statistic_ > self.limit:
            self.decayed_ = True
            self.reason_ = (
                f"decayed: CUSUM of the standardised {self.metric} deficit against "
                f"{self.threshold:g} reached {self.statistic_:.3g} > limit {self.limit:g} "
                f"at window {self.n_windows_}"
            )
        elif not self.decayed_:
            self.reason_ = (
                f"not decayed: CUSUM {self.statistic_:.3g} <= limit {self.limit:g} "
                f"after {self.n_windows_} windows"
            )
        return self

    @property
    def decision(self) -> DecayDecision:
        return DecayDecision(
            decayed=getattr(self, "decayed_", False),
            metric=self.metric,
            threshold=self.threshold,
            reason=getattr(self, "reason_", "not decayed: no window yet"),
            value=getattr(self, "statistic_", 0.0),
            rule="cusum",
        )

    def to_dict(self) -> dict[str, Any]:
        """Parameters and state, JSON-able: the monitor flow keeps the test across runs."""
        return {
            "params": {
                "metric": self.metric,
                "threshold": self.threshold,
                "higher_is_better": self.higher_is_better,
                "allowance": self.allowance,
                "limit": self.limit,
            },
            "state": {
                "statistic": getattr(self, "statistic_", 0.0),
                "n_windows": getattr(self, "n_windows_", 0),
                "decayed": getattr(self, "decayed_", False),
                "reason": getattr(self, "reason_", "not decayed: no window yet"),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CusumDecayTest:
        test = cls(**data["params"])
        state = data["state"]
        test.statistic_, test.n_windows_ = float(state["statistic"]), int(state["n_windows"])
        test.decayed_, test.reason_ = bool(state["decayed"]), str(state["reason"])
        return test
