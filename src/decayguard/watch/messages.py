"""Alert messages that say what moved and by how much, and link the dashboard view of it.

One monitor run gives one :class:`~decayguard.alerts.Signal` per rule. Each message is one
plain-text paragraph (it goes to Slack, e-mail and webhooks alike):

* ``feature_drift`` — every drifted feature, largest effect first (effect size over its
  threshold), with its deciding method's effect size and threshold, the test's p-value, and
  how its mean (numeric) or its most-moved category's share (categorical) changed;
* ``prediction_drift`` — how the output distribution moved (the positive rate of a binary
  classifier, the most-moved class share of a multiclass one, the mean prediction of a
  regressor, the mean score) with the effect sizes and p-values;
* ``decay.<strategy>`` — the metric's estimate, interval, threshold, method and sample size,
  the strategy, and its window (with the label coverage for realized labels);
* ``data_quality`` — each issue's share with its interval against the reference.

Each names its window (``since`` – ``until`` and the number of predictions), and its
``link`` opens the dashboard on it: ``model``, ``metric`` (the store's metric-point name),
``feature`` when one feature is in question, ``since`` (the window's start) and ``until``
(a minute past its end: the dashboard's ``until`` is exclusive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from decayguard.alerts.incidents import Signal
from decayguard.alerts.links import dashboard_link
from decayguard.config import DecayguardConfig
from decayguard.monitoring.profile import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    numeric_values,
)
from decayguard.monitoring.results import (
    DataQualityReport,
    DecayDecision,
    DriftReport,
    FeatureDrift,
    FeatureQuality,
    MetricEstimate,
)

if TYPE_CHECKING:
    from decayguard.watch.checks import CheckReport, StrategyVerdict

__all__ = ["ProxyFindings", "Shift", "build_signals", "shift_of"]

TEST_LABELS = {"ks": "KS", "chi2": "chi-squared"}
"""How each drift test is named beside its p-value."""

METHOD_LABELS = {
    "ks": "KS D",
    "chi2": "Cohen's w",
    "psi": "PSI",
    "jensen_shannon": "Jensen-Shannon",
    "hellinger": "Hellinger",
    "wasserstein": "Wasserstein",
}
"""How each drift method's effect size is named in a message."""

STRATEGY_LABELS = {
    "proxy": "estimated without labels",
    "review": "from the reviewed sample",
    "realized": "from ground-truth labels",
}
OUTPUT_NOUNS = {"predicted_class": "classes", "score": "score", "prediction": "prediction"}
"""How the columns of a task's prediction frame are named in a message."""
VIEW_MARGIN = timedelta(minutes=1)
"""A link's ``until`` is this far past the alert window's end: the dashboard's ``until`` is
exclusive (and to the minute in its form), and the view must hold the run that fired."""
POINT_KIND = {"proxy": "estimated", "review": "reviewed", "realized": "realized"}
"""The metric-point prefix of each strategy's performance figures."""


@dataclass(frozen=True)
class Shift:
    """How one distribution moved: ``what`` went from ``reference`` to ``current``."""

    what: str
    reference: float
    current: float
    share: bool = False

    def text(self) -> str:
        if self.share:
            return f"{self.what} {_share(self.reference)} → {_share(self.current)}"
        a, b = _pair(self.reference, self.current)
        return f"{self.what} {a} → {b}"


def shift_of(
    reference: NumericReference | CategoricalReference,
    values: pd.Series,
    *,
    focus: str | None = None,
    noun: str = "",
) -> Shift | None:
    """The headline move of a column against its reference: the mean of a numeric column;
    for a categorical one, the share of ``focus`` or else of the category (or unseen
    values) whose share moved most. ``None`` when the window has no value."""
    if isinstance(reference, NumericReference):
        current = numeric_values(values)
        current = current[np.isfinite(current)]
        if current.size == 0:
            return None
        return Shift(f"mean {noun}".strip(), reference.mean, float(current.mean()))
    present = values.dropna().astype(str)
    if present.empty or reference.n == 0:
        return None
    ref_shares = reference.counts / reference.n
    counts = present.value_counts()
    known = [float(counts.get(c, 0)) / len(present) for c in reference.categories]
    cur_shares = np.array([*known, 1.0 - sum(known)])
    names = [*reference.categories, ""]
    if focus is not None and focus in reference.categories:
        i = reference.categories.index(focus)
    else:
        i = int(np.argmax(np.abs(cur_shares - ref_shares)))
    what = f"share of unseen {noun or 'values'}" if names[i] == "" else f"share of {names[i]!r}"
    if focus is not None and names[i] == focus:
        what = f"positive rate ({focus!r})"
    return Shift(what, float(ref_shares[i]), float(cur_shares[i]), share=True)


@dataclass(frozen=True)
class ProxyFindings:
    """What the proxy strategy found in one window, kept for the alert messages."""

    since: datetime
    until: datetime
    n: int
    drift: DriftReport
    quality: DataQualityReport
    predictions: DriftReport
    feature_shifts: dict[str, Shift]
    output_shifts: dict[str, Shift]

    @classmethod
    def of(
        cls,
        *,
        since: datetime,
        until: datetime,
        drift: DriftReport,
        quality: DataQualityReport,
        predictions: DriftReport,
        features: ReferenceProfile,
        frame: pd.DataFrame,
        outputs_profile: ReferenceProfile,
        outputs: pd.DataFrame,
        positive: str | None = None,
    ) -> ProxyFindings:
        """The findings of a window: ``frame`` its inputs, ``outputs`` its prediction frame
        (the task's ``prediction_frame``); shifts are computed for drifted columns only."""
        feature_shifts = _shifts(drift, features, frame)
        output_shifts = _shifts(predictions, outputs_profile, outputs, positive, OUTPUT_NOUNS)
        return cls(
            since,
            until,
            drift.n_current,
            drift,
            quality,
            predictions,
            feature_shifts,
            output_shifts,
        )


def _shifts(
    report: DriftReport,
    profile: ReferenceProfile,
    frame: pd.DataFrame,
    positive: str | None = None,
    nouns: dict[str, str] | None = None,
) -> dict[str, Shift]:
    out = {}
    for item in report.features:
        if item.drifted and item.feature in frame.columns:
            reference = profile.features_[item.feature]
            focus = positive if item.feature == "predicted_class" else None
            noun = (nouns or {}).get(item.feature, "")
            if nouns is not None and item.feature.startswith("proba_"):
                noun = f"probability of {item.feature.removeprefix('proba_')!r}"
            found = shift_of(reference, frame[item.feature], focus=focus, noun=noun)
            if found is not None:
                out[item.feature] = found
    return out


# -- formatting ------------------------------------------------------------------------------
def _number(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _pair(a: float, b: float) -> tuple[str, str]:
    """Two values with the same number of decimals (``0.298 → 0.400``)."""
    size = max(abs(a), abs(b)) if math.isfinite(a) and math.isfinite(b) else 0.0
    decimals = 0 if size >= 1000 else 1 if size >= 100 else 2 if size >= 1 else 3
    return f"{a:,.{decimals}f}", f"{b:,.{decimals}f}"


def _share(x: float) -> str:
    return f"{x:.2f}" if x == 0 or abs(x) >= 0.01 else f"{x:.2g}"


def _p(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _window(since: datetime, until: datetime) -> str:
    a, b = since.astimezone(UTC), until.astimezone(UTC)
    return f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M} UTC"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _ranked(report: DriftReport) -> list[FeatureDrift]:
    """Drifted features, largest effect first (effect size over its threshold)."""
    drifted = [f for f in report.features if f.drifted]
    return sorted(
        drifted, key=lambda f: (-(f.effect_size / max(f.effect_threshold, 1e-12)), f.feature)
    )


def _moved_outputs(report: DriftReport) -> list[FeatureDrift]:
    """Drifted output columns, the predicted classes' shares first, then the scores."""
    return sorted((f for f in report.features if f.drifted), key=lambda f: f.kind != "categorical")


def _effect(item: FeatureDrift) -> str:
    """``KS D 0.245, lower bound 0.119 ≥ threshold 0.05; KS p < 0.001``."""
    label = METHOD_LABELS.get(item.effect_method, item.effect_method)
    result = next((r for r in item.results if r.method == item.effect_method), None)
    unit = " σ" if item.effect_method == "wasserstein" else ""
    text = f"{label} {item.effect_size:.3g}{unit}"
    if result is not None and result.effect_lower is not None:
        text += f", lower bound {result.effect_lower:.3g}{unit}"
    text += f" ≥ threshold {item.effect_threshold:g}{unit}"
    test = f"{TEST_LABELS.get(item.test, item.test)} {_p(item.p_value)}"
    if (
        item.adjusted_p_value is not None
        and item.p_value is not None
        and _p(item.adjusted_p_value) != _p(item.p_value)
    ):
        test += f" (adjusted {_p(item.adjusted_p_value).removeprefix('p ')})"
    return f"{text}; {test}"


# -- the messages ----------------------------------------------------------------------------
def feature_drift_message(findings: ProxyFindings) -> str:
    ranked = _ranked(findings.drift)
    parts = []
    for item in ranked:
        shift = findings.feature_shifts.get(item.feature)
        moved = f"{shift.text()}; " if shift is not None else ""
        parts.append(f"{item.feature} ({moved}{_effect(item)})")
    quiet = len(findings.drift.features) - len(ranked)
    return (
        f"{_count(len(ranked), 'feature')} drifted over {_window(findings.since, findings.until)}"
        f" ({_count(findings.n, 'prediction')} against {findings.drift.n_reference:,} "
        f"reference rows): {', '.join(parts)}. "
        f"{_count(quiet, 'other feature')} did not drift."
    )


def prediction_drift_message(findings: ProxyFindings) -> str:
    parts = []
    for item in _moved_outputs(findings.predictions):
        shift = findings.output_shifts.get(item.feature)
        head = shift.text() if shift is not None else item.feature
        parts.append(f"{head} ({item.feature}: {_effect(item)})")
    return (
        f"the prediction distribution shifted over {_window(findings.since, findings.until)} "
        f"({_count(findings.n, 'prediction')} against {findings.predictions.n_reference:,} "
        f"reference rows): {'; '.join(parts)}."
    )


_ISSUE_LABELS = {
    "missing_share": "missing",
    "out_of_range_share": "outside the reference range",
    "unseen_share": "unseen categories",
}


def _quality_issue(feature: FeatureQuality, label: str) -> str:
    estimate: MetricEstimate | None = getattr(feature, label)
    reference = {
        "missing_share": feature.reference_missing_share,
        "unseen_share": feature.reference_unseen_share,
        "out_of_range_share": 0.0,
    }[label]
    if estimate is None:
        return f"{feature.feature} {_ISSUE_LABELS[label]}"
    return (
        f"{feature.feature} {_ISSUE_LABELS[label]} {estimate.value:.1%} "
        f"[{estimate.lower:.1%}, {estimate.upper:.1%}] vs {reference:.1%} in the reference"
    )


def _quality_items(quality: DataQualityReport) -> list[tuple[FeatureQuality, str]]:
    return [
        (f, label)
        for f in quality.features
        for label in _ISSUE_LABELS
        if any(issue.startswith(label) for issue in f.issues)
    ]


def quality_message(findings: ProxyFindings) -> str:
    items = _quality_items(findings.quality)
    return (
        f"data quality issues over {_window(findings.since, findings.until)} "
        f"({_count(findings.n, 'prediction')}): "
        + "; ".join(_quality_issue(f, label) for f, label in items)
        + "."
    )


def _decision_text(decision: DecayDecision, estimate: MetricEstimate | None) -> str:
    """``accuracy 0.699, 95% interval [0.675, 0.722] (wilson, n=1,452), all of it below the
    threshold 0.8``; another rule's decision says its own reason."""
    if decision.rule != "interval" or decision.value is None:
        return f"{decision.metric}: {decision.reason}"
    text = f"{decision.metric} {_number(decision.value)}"
    if decision.lower is not None and decision.upper is not None:
        level = f"{estimate.confidence:.0%} " if estimate is not None else ""
        text += f", {level}interval [{_number(decision.lower)}, {_number(decision.upper)}]"
    if estimate is not None:
        text += f" ({estimate.method}, n={estimate.n:,})"
    side = "below" if decision.value < decision.threshold else "above"
    return f"{text}, all of it {side} the threshold {decision.threshold:g}"


def _sample(strategy: str, verdict: StrategyVerdict) -> str:
    if strategy == "realized":
        coverage = "" if verdict.coverage is None else f", {verdict.coverage:.0%} label coverage"
        provisional = ", provisional" if verdict.provisional else ""
        return f"{_count(verdict.n, 'labeled prediction')}{coverage}{provisional}"
    if strategy == "review":
        return _count(verdict.n, "reviewed prediction")
    return _count(verdict.n, "prediction")


def decay_message(strategy: str, verdict: StrategyVerdict, since: datetime, until: datetime) -> str:
    window = f"over {_window(since, until)} ({_sample(strategy, verdict)})"
    if not verdict.decayed:
        return f"{strategy}: {verdict.reason}, {window}"
    hits = [d for d in verdict.decisions if d.decayed]
    texts = [_decision_text(d, verdict.metrics.get(d.metric)) for d in hits]
    how = STRATEGY_LABELS.get(strategy, strategy)
    return f"performance decayed, {how} (strategy {strategy}), {window}: {'; '.join(texts)}."


# -- the signals -----------------------------------------------------------------------------
def strategy_window(cfg: DecayguardConfig, strategy: str, now: datetime) -> datetime:
    """The start of the window ``strategy`` reads in a run ending at ``now``."""
    mon = cfg.monitoring
    hours = {"review": mon.review_window_hours, "realized": mon.labels_window_hours}.get(
        strategy, mon.window_hours
    )
    return now - timedelta(hours=hours)


def _decay_signal(
    cfg: DecayguardConfig, report: CheckReport, strategy: str, verdict: StrategyVerdict
) -> Signal:
    since, until = strategy_window(cfg, strategy, report.now), report.now
    decisions = [d for d in verdict.decisions if d.decayed] or list(verdict.decisions)
    metric = None
    if decisions:
        metric = f"{POINT_KIND.get(strategy, strategy)}.{decisions[0].metric}"
    link = dashboard_link(
        cfg, model=report.model_name, metric=metric, since=since, until=until + VIEW_MARGIN
    )
    return Signal(
        report.model_name,
        f"decay.{strategy}",
        verdict.decayed,
        "critical",
        decay_message(strategy, verdict, since, until),
        link=link,
    )


def build_signals(cfg: DecayguardConfig, report: CheckReport) -> list[Signal]:
    """One signal per rule for the champion's report: decay per strategy, feature drift,
    prediction drift and data quality."""
    model, now = report.model_name, report.now
    signals = [_decay_signal(cfg, report, s, v) for s, v in report.verdicts.items()]
    findings = report.findings
    since = strategy_window(cfg, "proxy", now) if findings is None else findings.since

    def link(metric: str | None = None, feature: str | None = None) -> str:
        return dashboard_link(
            cfg, model=model, metric=metric, feature=feature, since=since, until=now + VIEW_MARGIN
        )

    where = f"over {_window(since, now)} ({_count(report.n_predictions, 'prediction')})"
    drifted = [] if findings is None else _ranked(findings.drift)
    if findings is not None and drifted:
        top = drifted[0]
        signals.append(
            Signal(
                model,
                "feature_drift",
                True,
                "warning",
                feature_drift_message(findings),
                link=link(f"drift.{top.effect_method}", top.feature),
            )
        )
    else:
        signals.append(
            Signal(model, "feature_drift", False, "warning", f"no feature drift {where}", link())
        )
    moved = [] if findings is None else _moved_outputs(findings.predictions)
    if findings is not None and moved:
        top = moved[0]
        signals.append(
            Signal(
                model,
                "prediction_drift",
                True,
                "warning",
                prediction_drift_message(findings),
                link=link(f"prediction_drift.{top.effect_method}", top.feature),
            )
        )
    else:
        signals.append(
            Signal(
                model, "prediction_drift", False, "warning", f"predictions stable {where}", link()
            )
        )
    issues = [] if findings is None else _quality_items(findings.quality)
    if findings is not None and issues:
        feature, label = issues[0]
        signals.append(
            Signal(
                model,
                "data_quality",
                True,
                "warning",
                quality_message(findings),
                link=link(f"quality.{label}", feature.feature),
            )
        )
    else:
        signals.append(
            Signal(
                model,
                "data_quality",
                False,
                "warning",
                f"data quality within reference {where}",
                link(),
            )
        )
    return signals
