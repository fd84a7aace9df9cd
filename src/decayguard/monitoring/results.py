"""Result records: plain frozen dataclasses, and the one protocol every result follows.

Every monitoring result (drift report, data-quality report, multivariate test, estimated or
realized performance) offers the same two verbs, :class:`MonitoringResult`:

* ``to_points()``: the storable figures (:class:`MetricPoint`), named as the store keeps them;
* ``to_frame()``: the same figures as a DataFrame, one row per point (for notebooks).

>>> report = MetricsReport(
...     {"accuracy": MetricEstimate("accuracy", 0.9, 0.85, 0.94, 200, "wilson")}, "realized"
... )
>>> report["accuracy"].value, [p.name for p in report.to_points()]
(0.9, ['realized.accuracy'])
>>> report.to_frame()[["name", "value", "lower"]]
                name  value  lower
0  realized.accuracy    0.9   0.85
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd

__all__ = [
    "DataQualityReport",
    "DecayDecision",
    "DriftReport",
    "DriftTestResult",
    "FeatureDrift",
    "FeatureQuality",
    "MetricEstimate",
    "MetricPoint",
    "MetricsReport",
    "MonitoringResult",
    "points_frame",
]

POINT_COLUMNS = ("name", "value", "lower", "upper", "flagged", "reason", "feature")
PREDICTION_DRIFT = "prediction_drift"
"""The point prefix of prediction-drift reports: ``prediction_drift.<method>``."""


def _clean(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@dataclass(frozen=True)
class MetricPoint:
    """One storable figure: the shape the store's metric-point table takes."""

    name: str
    value: float | None
    lower: float | None = None
    upper: float | None = None
    flagged: bool = False
    reason: str = ""
    feature: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def points_frame(points: list[MetricPoint]) -> pd.DataFrame:
    """Metric points as a DataFrame with the columns of :data:`POINT_COLUMNS`."""
    return pd.DataFrame([p.to_dict() for p in points], columns=list(POINT_COLUMNS))


@runtime_checkable
class MonitoringResult(Protocol):
    """What every monitoring result offers."""

    def to_points(self) -> list[MetricPoint]: ...

    def to_frame(self) -> pd.DataFrame: ...


class _PointsFrame:
    """``to_frame()`` from ``to_points()``: the shared half of the result protocol."""

    def to_points(self) -> list[MetricPoint]:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:
        """The result's points, one row each (columns: :data:`POINT_COLUMNS`)."""
        return points_frame(self.to_points())


@dataclass(frozen=True)
class DriftTestResult:
    """One drift method on one feature.

    ``drifted`` in a :class:`DriftReport` means: the feature's test is significant after the
    multiple-testing correction *and* this method's effect size reaches ``threshold``.
    ``error_bound`` bounds the statistic's error when computed against a reference sketch.
    ``effect_lower`` is a finite-sample lower confidence bound of the effect size where the
    method has one (KS: Dvoretzky–Kiefer–Wolfowitz); the rule then compares it, not the point
    estimate, with the threshold, so sampling noise in small windows cannot pass the gate.
    """

    feature: str
    method: str
    statistic: float
    p_value: float | None
    effect_size: float
    threshold: float
    drifted: bool = False
    error_bound: float | None = None
    effect_lower: float | None = None

    @property
    def gated_effect(self) -> float:
        """What the threshold is compared with: the lower bound if known, else the estimate."""
        return self.effect_size if self.effect_lower is None else self.effect_lower

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeatureDrift:
    """The decision for one feature, with every method's result."""

    feature: str
    kind: str
    test: str
    p_value: float | None
    adjusted_p_value: float | None
    effect_method: str
    effect_size: float
    effect_threshold: float
    drifted: bool
    reason: str
    results: tuple[DriftTestResult, ...] = ()

    def result(self, method: str) -> DriftTestResult:
        for result in self.results:
            if result.method == method:
                return result
        raise KeyError(f"no {method!r} result for feature {self.feature!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["results"] = [r.to_dict() for r in self.results]
        return data


@dataclass(frozen=True)
class DriftReport(_PointsFrame):
    """Drift of every feature of one window against the reference.

    ``prefix`` names its points: ``drift`` for the inputs, ``prediction_drift`` for outputs.
    """

    features: tuple[FeatureDrift, ...]
    alpha: float
    correction: str
    n_current: int
    n_reference: int
    prefix: str = "drift"

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def drifted(self) -> bool:
        return any(f.drifted for f in self.features)

    def __getitem__(self, feature: str) -> FeatureDrift:
        for item in self.features:
            if item.feature == feature:
                return item
        raise KeyError(feature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "correction": self.correction,
            "n_current": self.n_current,
            "n_reference": self.n_reference,
            "drifted_features": self.drifted_features,
            "features": [f.to_dict() for f in self.features],
        }

    def to_points(self) -> list[MetricPoint]:
        """One point per (feature, method): ``<prefix>.<method>`` with the statistic as value,
        flagged when the feature's test is significant and this method's effect reaches its
        threshold. The deciding method's point carries the feature's reason (whether flagged or
        not); every other flagged point says why it is flagged."""
        points = []
        for feature in self.features:
            for r in feature.results:
                reason = feature.reason if r.method == feature.effect_method else ""
                if r.drifted and not reason:
                    reason = (
                        f"{r.method} effect {r.gated_effect:.3g} >= threshold {r.threshold:g}"
                        f" and {feature.test} significant"
                    )
                points.append(
                    MetricPoint(
                        f"{self.prefix}.{r.method}",
                        _clean(r.statistic),
                        flagged=r.drifted,
                        reason=reason,
                        feature=r.feature,
                    )
                )
        return points

    def to_records(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.to_points()]


@dataclass(frozen=True)
class MetricEstimate:
    """A performance figure with its confidence interval.

    ``method`` says how the interval was computed (``wilson``, ``normal``, ``hajek``,
    ``delong``, ``bootstrap``, ``cbpe``, ``direct_loss``).
    """

    name: str
    value: float
    lower: float
    upper: float
    n: int
    method: str
    confidence: float = 0.95
    weighted: bool = False

    @property
    def interval(self) -> tuple[float, float]:
        return (self.lower, self.upper)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_point(self, flagged: bool = False, reason: str = "") -> MetricPoint:
        return MetricPoint(
            self.name, _clean(self.value), _clean(self.lower), _clean(self.upper), flagged, reason
        )


@dataclass(frozen=True, eq=False)
class MetricsReport(_PointsFrame, Mapping[str, MetricEstimate]):
    """Performance figures of one window by metric name, estimated or realized.

    A read-only mapping (``report["accuracy"]``), and a :class:`MonitoringResult` whose points
    are named ``<kind>.<metric>`` (``kind``: ``estimated``, ``realized``, ``reviewed``; an
    empty ``kind`` keeps the bare metric names).
    """

    metrics: Mapping[str, MetricEstimate] = field(default_factory=dict)
    kind: str = ""

    def __getitem__(self, name: str) -> MetricEstimate:
        return self.metrics[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    def with_kind(self, kind: str) -> MetricsReport:
        """The same figures, named as ``kind`` (for example ``reviewed``)."""
        return MetricsReport(dict(self.metrics), kind)

    def to_points(self) -> list[MetricPoint]:
        prefix = f"{self.kind}." if self.kind else ""
        out = []
        for m in self.metrics.values():
            p = m.to_point()
            out.append(MetricPoint(prefix + m.name, p.value, p.lower, p.upper))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {name: m.to_dict() for name, m in self.metrics.items()}


@dataclass(frozen=True)
class DecayDecision(_PointsFrame):
    """Whether performance is declared below its threshold, and why (always a reason).

    Its point ``decay.<metric>`` is flagged when decayed and carries the reason.
    """

    decayed: bool
    metric: str
    threshold: float
    reason: str
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    rule: str = ""

    def to_point(self) -> MetricPoint:
        return MetricPoint(
            f"decay.{self.metric}",
            _clean(self.value),
            _clean(self.lower),
            _clean(self.upper),
            self.decayed,
            self.reason,
        )

    def to_points(self) -> list[MetricPoint]:
        return [self.to_point()]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeatureQuality:
    """Data-quality shares of one feature with Wilson intervals; ``flagged`` names the issues."""

    feature: str
    missing_share: MetricEstimate
    reference_missing_share: float
    out_of_range_share: MetricEstimate | None
    unseen_share: MetricEstimate | None
    reference_unseen_share: float
    issues: tuple[str, ...] = field(default_factory=tuple)

    @property
    def flagged(self) -> bool:
        return bool(self.issues)


@dataclass(frozen=True)
class DataQualityReport(_PointsFrame):
    features: tuple[FeatureQuality, ...]

    @property
    def flagged_features(self) -> list[str]:
        return [f.feature for f in self.features if f.flagged]

    @property
    def issues(self) -> list[str]:
        """Every flagged issue as ``"<feature>: <issue>"``."""
        return [f"{f.feature}: {issue}" for f in self.features for issue in f.issues]

    def to_points(self) -> list[MetricPoint]:
        points = []
        for f in self.features:
            for label, est in (
                ("missing_share", f.missing_share),
                ("out_of_range_share", f.out_of_range_share),
                ("unseen_share", f.unseen_share),
            ):
                if est is not None:
                    issue = [i for i in f.issues if i.startswith(label)]
                    point = est.to_point(bool(issue), "; ".join(issue))
                    points.append(
                        MetricPoint(
                            f"quality.{label}",
                            point.value,
                            point.lower,
                            point.upper,
                            point.flagged,
                            point.reason,
                            f.feature,
                        )
                    )
        return points
