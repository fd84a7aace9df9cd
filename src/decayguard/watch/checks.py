"""One monitor run: three strategies, metric points, decisions, alert signals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from decayguard.alerts.incidents import Signal
from decayguard.config import DecayguardConfig
from decayguard.feedback.estimates import reviewed_performance
from decayguard.feedback.realized import SHADOW_ARM, realized_performance
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
from decayguard.store import MetricPoint, read_window, write_metric_points
from decayguard.store.predictions import PredictionWindow
from decayguard.watch.baseline import MonitoringBaseline

PROXY, REVIEW, LABELS = "proxy", "review", "realized"
STRATEGIES = (PROXY, REVIEW, LABELS)


@dataclass(frozen=True)
class StrategyVerdict:
    """What one strategy concluded in this run."""

    strategy: str
    decisions: tuple[DecayDecision, ...]
    n: int
    coverage: float | None = None
    provisional: bool = False
    note: str = ""

    @property
    def decayed(self) -> bool:
        return any(d.decayed for d in self.decisions)

    @property
    def reason(self) -> str:
        hits = [d.reason for d in self.decisions if d.decayed]
        if hits:
            return "; ".join(hits)
        return self.note or "; ".join(d.reason for d in self.decisions) or "no decision"


@dataclass
class CheckReport:
    """Everything one monitor run found for one model."""

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
    signals: list[Signal] = field(default_factory=list)

    @property
    def decayed(self) -> bool:
        return any(v.decayed for v in self.verdicts.values())

    @property
    def decay_reason(self) -> str:
        return " | ".join(f"{s}: {v.reason}" for s, v in self.verdicts.items() if v.decayed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "now": self.now.isoformat(),
            "n_predictions": self.n_predictions,
            "decayed": self.decayed,
            "decay_reason": self.decay_reason,
            "drifted_features": self.drifted_features,
            "prediction_drift": self.prediction_drift,
            "multivariate_drift": self.multivariate_drift,
            "quality_issues": self.quality_issues,
            "verdicts": {
                s: {"decayed": v.decayed, "reason": v.reason, "n": v.n, "coverage": v.coverage}
                for s, v in self.verdicts.items()
            },
        }


class _Points:
    """Collects store metric points for one window."""

    def __init__(self, report: CheckReport, start: datetime, end: datetime) -> None:
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
    report: CheckReport,
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
    if baseline.estimator is not None:
        estimates = task.estimate(baseline.estimator, frame, outputs)
        results.append(estimates)
        decisions = _decide(cfg, task, estimates)
    for result in results:
        for figure in result.to_points():
            points.add(PROXY, figure, n=n)
    for d in decisions:
        points.add(PROXY, d.to_point(), n=n)
    report.drifted_features = drift.drifted_features
    report.prediction_drift = preds.drifted
    report.quality_issues = [
        f"{f.feature}: {issue}" for f in quality.features for issue in f.issues
    ]
    report.verdicts[PROXY] = StrategyVerdict(PROXY, decisions, n)


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
) -> StrategyVerdict:
    """Decide on ``metrics`` when ``n`` reaches ``minimum``; record figures and decisions."""
    decisions: tuple[DecayDecision, ...] = ()
    if n >= minimum:
        decisions = _decide(cfg, task, metrics)
        note = f"provisional: {coverage or 0:.0%} of labels in" if provisional else ""
    else:
        note = f"{n} {metrics.kind} predictions < {minimum} needed: no decision"
    figures = metrics.to_points() + [d.to_point() for d in decisions]
    for figure in figures:
        points.add(strategy, figure, n=n, coverage=coverage, provisional=provisional, start=start)
    return StrategyVerdict(
        strategy, decisions, n, coverage=coverage, provisional=provisional, note=note
    )


def _review(
    cfg: DecayguardConfig,
    engine: Engine,
    baseline: MonitoringBaseline,
    report: CheckReport,
    start: datetime,
    end: datetime,
    points: _Points,
) -> None:
    perf = reviewed_performance(
        engine,
        report.model_name,
        start,
        end,
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
    )


def _labels(
    cfg: DecayguardConfig,
    engine: Engine,
    baseline: MonitoringBaseline,
    report: CheckReport,
    start: datetime,
    end: datetime,
    points: _Points,
) -> None:
    (window,) = realized_performance(
        engine,
        report.model_name,
        start,
        end,
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
    )


def _signals(cfg: DecayguardConfig, report: CheckReport) -> list[Signal]:
    model = report.model_name
    signals = []
    for strategy, verdict in report.verdicts.items():
        signals.append(
            Signal(
                model,
                f"decay.{strategy}",
                verdict.decayed,
                "critical",
                f"performance decay by {strategy}: {verdict.reason}"
                if verdict.decayed
                else f"{strategy}: {verdict.reason}",
            )
        )
    drifted = report.drifted_features
    signals.append(
        Signal(
            model,
            "feature_drift",
            bool(drifted),
            "warning",
            f"features drifted: {', '.join(drifted)}" if drifted else "no feature drift",
        )
    )
    signals.append(
        Signal(
            model,
            "prediction_drift",
            report.prediction_drift,
            "warning",
            "the prediction distribution shifted"
            if report.prediction_drift
            else "predictions stable",
        )
    )
    issues = report.quality_issues
    signals.append(
        Signal(
            model,
            "data_quality",
            bool(issues),
            "warning",
            "; ".join(issues) if issues else "data quality within reference",
        )
    )
    return signals


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
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    mon = cfg.monitoring
    start = now - timedelta(hours=mon.window_hours)
    # the shadow arm re-scores the same requests: its rows would count every input twice
    window = read_window(engine, cfg.model.name, start, now).without_arm(SHADOW_ARM)
    report = CheckReport(cfg.model.name, baseline.model_version, now, len(window))
    points = _Points(report, start, now)
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
    report.signals = _signals(cfg, report)
    if write:
        write_metric_points(engine, report.points)
    return report
