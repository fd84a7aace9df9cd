"""One monitor run: three strategies, metric points, decisions, alert signals.

Every figure is computed per model version. The champion's come from every request the
champion version scored: those it answered and, during a canary, those it scored silently
beside the challenger's answer. When a candidate version is live (a ``challenger``
deployment in shadow or canary), the same figures are computed for it against its own
baseline and written as metric points under its version; they go into the report's
``arms`` but decide nothing and raise no alert: whether the candidate is good enough is
the release judge's question (:mod:`decayguard.release.judge`), not the monitor's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow.compute as pc
from sqlalchemy.engine import Engine

from decayguard.alerts.incidents import Signal
from decayguard.config import DecayguardConfig
from decayguard.errors import ConfigError
from decayguard.feedback.estimates import reviewed_performance
from decayguard.feedback.realized import realized_performance
from decayguard.monitoring import (
    DEFAULT_METHODS,
    DecayDecision,
    DriftDecisionRule,
    MetricEstimate,
    PerformanceThresholdRule,
    assess_data_quality,
    detect_drift,
    drift_method,
)
from decayguard.monitoring.results import MetricPoint as Figure
from decayguard.monitoring.results import MetricsReport, MonitoringResult
from decayguard.monitoring.tasks import ModelTask
from decayguard.store import MetricPoint, active_version, read_window, write_metric_points
from decayguard.store.predictions import PredictionWindow
from decayguard.watch.baseline import MonitoringBaseline, load_baseline
from decayguard.watch.messages import ProxyFindings, build_signals

PROXY, REVIEW, LABELS = "proxy", "review", "realized"
STRATEGIES = (PROXY, REVIEW, LABELS)
CHAMPION, CHALLENGER = "champion", "challenger"
CANDIDATE_NOTE = "a candidate: figures only, no decision (the release judge decides)"


@dataclass(frozen=True)
class StrategyVerdict:
    """What one strategy concluded in this run."""

    strategy: str
    decisions: tuple[DecayDecision, ...]
    n: int
    coverage: float | None = None
    provisional: bool = False
    note: str = ""
    metrics: Mapping[str, MetricEstimate] = field(default_factory=dict)
    """The performance figures the strategy found (estimated, reviewed or realized)."""

    @property
    def decayed(self) -> bool:
        return any(d.decayed for d in self.decisions)

    @property
    def reason(self) -> str:
        hits = [d.reason for d in self.decisions if d.decayed]
        if hits:
            return "; ".join(hits)
        return self.note or "; ".join(d.reason for d in self.decisions) or "no decision"

    def to_dict(self, *, decisions: bool = True) -> dict[str, Any]:
        """Strict JSON: each metric as ``value``/``lower``/``upper`` (``None`` if unknown)."""
        figures = {name: m.to_point() for name, m in self.metrics.items()}
        data: dict[str, Any] = {"decayed": self.decayed} if decisions else {}
        return data | {
            "reason": self.reason,
            "n": self.n,
            "coverage": self.coverage,
            "provisional": self.provisional,
            "metrics": {
                name: {"value": f.value, "lower": f.lower, "upper": f.upper}
                for name, f in figures.items()
            },
        }


@dataclass
class ArmReport:
    """Every figure one monitor run found for one model version (the champion, or a
    candidate on live traffic: ``role``)."""

    model_name: str
    model_version: str
    now: datetime
    n_predictions: int
    verdicts: dict[str, StrategyVerdict] = field(default_factory=dict)
    drifted_features: list[str] = field(default_factory=list)
    prediction_drift: bool = False
    quality_issues: list[str] = field(default_factory=list)
    multivariate_drift: bool = False
    points: list[MetricPoint] = field(default_factory=list)
    role: str = CHAMPION
    note: str = ""
    findings: ProxyFindings | None = None
    """The proxy strategy's drift and quality results, for the alert messages (``None``
    when the window was too small to check)."""

    @property
    def decides(self) -> bool:
        """Whether the figures are judged against the decision rules (the champion's)."""
        return self.role == CHAMPION

    @property
    def decayed(self) -> bool:
        return any(v.decayed for v in self.verdicts.values())

    @property
    def decay_reason(self) -> str:
        return " | ".join(f"{s}: {v.reason}" for s, v in self.verdicts.items() if v.decayed)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "role": self.role,
            "now": self.now.isoformat(),
            "n_predictions": self.n_predictions,
        }
        if self.decides:
            data |= {"decayed": self.decayed, "decay_reason": self.decay_reason}
        else:
            data["note"] = self.note
        return data | {
            "drifted_features": self.drifted_features,
            "prediction_drift": self.prediction_drift,
            "multivariate_drift": self.multivariate_drift,
            "quality_issues": self.quality_issues,
            "verdicts": {s: v.to_dict(decisions=self.decides) for s, v in self.verdicts.items()},
        }


@dataclass
class CheckReport(ArmReport):
    """Everything one monitor run found for one model: the champion's figures, decisions
    and alert signals, and the figures of any candidate version on live traffic."""

    signals: list[Signal] = field(default_factory=list)
    arms: dict[str, ArmReport] = field(default_factory=dict)
    """Candidate versions on live traffic by version: their figures against their own
    baselines (metric points under their version); no decision, no signal."""

    @property
    def all_points(self) -> list[MetricPoint]:
        """The champion's metric points, then every candidate's."""
        return self.points + [p for arm in self.arms.values() for p in arm.points]

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {
            "arms": {version: arm.to_dict() for version, arm in self.arms.items()}
        }


class _Points:
    """Collects store metric points for one window."""

    def __init__(self, report: ArmReport, start: datetime, end: datetime) -> None:
        self.report, self.start, self.end = report, start, end

    def add(
        self,
        strategy: str,
        figure: Figure,
        *,
        n: int | None = None,
        coverage: float | None = None,
        provisional: bool = False,
        start: datetime | None = None,
    ) -> None:
        self.report.points.append(
            MetricPoint(
                model_name=self.report.model_name,
                model_version=self.report.model_version,
                window_start=start or self.start,
                window_end=self.end,
                strategy=strategy,
                metric=figure.name,
                feature=figure.feature,
                value=figure.value,
                lower=figure.lower,
                upper=figure.upper,
                n=n,
                coverage=coverage,
                provisional=provisional,
                flagged=figure.flagged,
                reason=figure.reason or None,
            )
        )


def _decide(
    cfg: DecayguardConfig, task: ModelTask, estimates: Mapping[str, MetricEstimate]
) -> tuple[DecayDecision, ...]:
    return tuple(
        PerformanceThresholdRule(metric, threshold, task.higher_is_better(metric)).decide(
            estimates[metric]
        )
        for metric, threshold in cfg.performance_thresholds.items()
        if metric in estimates and np.isfinite(estimates[metric].value)
    )


def _proxy(
    cfg: DecayguardConfig,
    baseline: MonitoringBaseline,
    window: PredictionWindow,
    report: ArmReport,
    points: _Points,
) -> None:
    mon = cfg.monitoring
    task = baseline.task
    meta = window.meta()
    n = len(meta)
    rule = DriftDecisionRule(alpha=mon.drift_alpha)
    deciding = set(rule.effects.values())
    methods = [
        drift_method(m, threshold=mon.drift_effect_size)
        if m in deciding and mon.drift_effect_size is not None
        else drift_method(m)
        for m in DEFAULT_METHODS
    ]
    inputs = window.inputs()
    frame = inputs.reindex(columns=list(baseline.features.features_))
    outputs = task.outputs_from_log(meta, window.outputs())
    drift = detect_drift(baseline.features, frame, rule=rule, methods=methods)
    quality = assess_data_quality(baseline.features, frame, confidence=mon.confidence)
    preds = task.detect_prediction_drift(baseline.predictions, outputs, rule=rule)
    results: list[MonitoringResult] = [drift, quality, preds]
    if baseline.multivariate is not None and any(c in inputs.columns for c in frame.columns):
        multi = baseline.multivariate.detect(frame)
        report.multivariate_drift = multi.drifted
        results.append(multi)
    decisions: tuple[DecayDecision, ...] = ()
    estimates = MetricsReport({}, "estimated")
    if baseline.estimator is not None:
        estimates = task.estimate(baseline.estimator, frame, outputs)
        results.append(estimates)
        decisions = _decide(cfg, task, estimates) if report.decides else ()
    for result in results:
        for figure in result.to_points():
            points.add(PROXY, figure, n=n)
    for d in decisions:
        points.add(PROXY, d.to_point(), n=n)
    report.findings = ProxyFindings.of(
        since=window.start,
        until=report.now,
        drift=drift,
        quality=quality,
        predictions=preds,
        features=baseline.features,
        frame=frame,
        outputs_profile=baseline.predictions,
        outputs=task.prediction_frame(outputs),
        positive=getattr(task, "positive", None),
    )
    report.drifted_features = drift.drifted_features
    report.prediction_drift = preds.drifted
    report.quality_issues = [
        f"{f.feature}: {issue}" for f in quality.features for issue in f.issues
    ]
    note = "" if report.decides else CANDIDATE_NOTE
    report.verdicts[PROXY] = StrategyVerdict(PROXY, decisions, n, note=note, metrics=estimates)


def _judge(
    cfg: DecayguardConfig,
    task: ModelTask,
    strategy: str,
    metrics: MetricsReport,
    n: int,
    minimum: int,
    points: _Points,
    start: datetime,
    coverage: float | None = None,
    provisional: bool = False,
    *,
    decides: bool = True,
) -> StrategyVerdict:
    """Decide on ``metrics`` when ``n`` reaches ``minimum`` (and the arm ``decides``);
    record figures and decisions."""
    decisions: tuple[DecayDecision, ...] = ()
    if n < minimum:
        note = f"{n} {metrics.kind} predictions < {minimum} needed: no decision"
    elif not decides:
        note = CANDIDATE_NOTE
    else:
        decisions = _decide(cfg, task, metrics)
        note = f"provisional: {coverage or 0:.0%} of labels in" if provisional else ""
    figures = metrics.to_points() + [d.to_point() for d in decisions]
    for figure in figures:
        points.add(strategy, figure, n=n, coverage=coverage, provisional=provisional, start=start)
    return StrategyVerdict(
        strategy,
        decisions,
        n,
        coverage=coverage,
        provisional=provisional,
        note=note,
        metrics=dict(metrics.items()),
    )


def _review(
    cfg: DecayguardConfig,
    engine: Engine,
    baseline: MonitoringBaseline,
    report: ArmReport,
    start: datetime,
    end: datetime,
    points: _Points,
) -> None:
    perf = reviewed_performance(
        engine,
        report.model_name,
        start,
        end,
        version=report.model_version,
        task=baseline.task,
        confidence=cfg.monitoring.confidence,
    )
    report.verdicts[REVIEW] = _judge(
        cfg,
        baseline.task,
        REVIEW,
        perf.metrics.with_kind("reviewed"),
        perf.labeled,
        cfg.monitoring.min_reviews,
        points,
        start,
        decides=report.decides,
    )


def _labels(
    cfg: DecayguardConfig,
    engine: Engine,
    baseline: MonitoringBaseline,
    report: ArmReport,
    start: datetime,
    end: datetime,
    points: _Points,
) -> None:
    (window,) = realized_performance(
        engine,
        report.model_name,
        start,
        end,
        version=report.model_version,
        maturity=cfg.feedback.label_maturity,
        task=baseline.task,
        confidence=cfg.monitoring.confidence,
    )
    report.verdicts[LABELS] = _judge(
        cfg,
        baseline.task,
        LABELS,
        MetricsReport(dict(window.metrics), "realized"),
        window.labeled,
        cfg.monitoring.min_labels,
        points,
        start,
        coverage=window.coverage,
        provisional=window.provisional,
        decides=report.decides,
    )


def _signals(cfg: DecayguardConfig, report: CheckReport) -> list[Signal]:
    """One signal per rule, its message saying what moved and by how much
    (:mod:`decayguard.watch.messages`)."""
    return build_signals(cfg, report)


def _of_version(window: PredictionWindow, version: str) -> PredictionWindow:
    """The rows one model version scored, answered or silent."""
    if not len(window):
        return window
    keep = pc.fill_null(pc.equal(window.table.column("model_version"), version), False)
    return PredictionWindow(window.model_name, window.start, window.end, window.table.filter(keep))


def _check_arm(
    cfg: DecayguardConfig,
    engine: Engine,
    baseline: MonitoringBaseline,
    window: PredictionWindow,
    report: ArmReport,
) -> None:
    """Every strategy's figures for ``report``'s version (decisions if it ``decides``)."""
    mon, now = cfg.monitoring, report.now
    window = _of_version(window, report.model_version)
    report.n_predictions = len(window)
    points = _Points(report, window.start, now)
    if len(window) >= mon.min_window_rows:
        _proxy(cfg, baseline, window, report, points)
    else:
        report.verdicts[PROXY] = StrategyVerdict(
            PROXY, (), len(window), note=f"{len(window)} rows < min_window_rows: no decision"
        )
    review_start = now - timedelta(hours=mon.review_window_hours)
    _review(cfg, engine, baseline, report, review_start, now, points)
    labels_start = now - timedelta(hours=mon.labels_window_hours)
    _labels(cfg, engine, baseline, report, labels_start, now, points)


def _candidate(
    cfg: DecayguardConfig, engine: Engine, window: PredictionWindow, champion: str, now: datetime
) -> ArmReport | None:
    """The figures of the challenger version on live traffic, if there is one."""
    version = active_version(engine, cfg.model.name, role=CHALLENGER)
    if version is None or version == champion:
        return None
    arm = ArmReport(cfg.model.name, version, now, 0, role=CHALLENGER, note=CANDIDATE_NOTE)
    try:
        baseline = load_baseline(cfg.path(cfg.project.state_dir), cfg.model.name, version)
    except ConfigError as exc:
        arm.n_predictions = len(_of_version(window, version))
        arm.note = f"no figures: {exc}"
        return arm
    _check_arm(cfg, engine, baseline, window, arm)
    return arm


def run_checks(
    cfg: DecayguardConfig,
    engine: Engine,
    baseline: MonitoringBaseline,
    now: datetime | None = None,
    *,
    write: bool = True,
) -> CheckReport:
    """Run every strategy for the window ending at ``now``; write the metric points.

    Proxy signals read the last ``monitoring.window_hours``; the reviewed sample and the
    retrospective labels read the longer ``review_window_hours`` and ``labels_window_hours``
    (their evidence accrues slowly). Windows with fewer than ``min_window_rows`` predictions
    are reported but decide nothing.

    The champion (``baseline``'s version) is judged on every request it scored, answered
    or silent: each request once (a second version's silent row would count its inputs
    twice and mix its outputs in). A candidate version live in shadow or canary (the
    store's active ``challenger`` deployment) gets the same figures against its own
    baseline, in :attr:`CheckReport.arms` and as metric points under its version, but no
    decision and no signal; without a baseline it is reported with a note and no figures.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    start = now - timedelta(hours=cfg.monitoring.window_hours)
    window = read_window(engine, cfg.model.name, start, now)
    report = CheckReport(cfg.model.name, baseline.model_version, now, 0)
    _check_arm(cfg, engine, baseline, window, report)
    report.signals = _signals(cfg, report)
    candidate = _candidate(cfg, engine, window, baseline.model_version, now)
    if candidate is not None:
        report.arms[candidate.model_version] = candidate
    if write:
        write_metric_points(engine, report.all_points)
    return report
