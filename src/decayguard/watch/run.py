"""``monitor_once``: what one monitor run does, whoever runs it (Prefect, the CLI, a test)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from decayguard.alerts.incidents import AlertOutcome, IncidentTracker
from decayguard.alerts.notify import Notifier
from decayguard.config import DecayguardConfig
from decayguard.errors import ConfigError
from decayguard.feedback.label_rules import default_label_values
from decayguard.monitoring.tasks import ModelTask, task_for
from decayguard.store import active_version, create_store_engine, ensure_schema
from decayguard.watch.baseline import MonitoringBaseline, load_baseline
from decayguard.watch.checks import CheckReport, run_checks


@dataclass
class MonitorOutcome:
    report: CheckReport
    alerts: list[AlertOutcome]
    decay_since: datetime | None = None
    """Where the open decay began (see :func:`decay_onset`), or ``None``."""


def champion_baseline(cfg: DecayguardConfig, engine: Engine) -> MonitoringBaseline:
    """The baseline of the model version serving as champion; :class:`ConfigError` if none."""
    ensure_schema(engine)
    version = active_version(engine, cfg.model.name)
    if version is None:
        raise ConfigError(
            f"{cfg.root / 'decayguard.yaml'}: model.name: no active champion deployment of "
            f"{cfg.model.name!r} in the store; deploy one first"
        )
    return load_baseline(cfg.path(cfg.project.state_dir), cfg.model.name, version)


def project_task(cfg: DecayguardConfig, engine: Engine) -> ModelTask:
    """The task of the model: the serving champion's (whose baseline knows its classes), or,
    before any deployment, one built from ``model.task`` and ``feedback.label_values``."""
    ensure_schema(engine)
    version = active_version(engine, cfg.model.name)
    if version is not None:
        try:
            return load_baseline(cfg.path(cfg.project.state_dir), cfg.model.name, version).task
        except ConfigError:
            pass  # deployed without a baseline: fall back to the configuration
    model = cfg.model
    classes = default_label_values(model.task, model.positive_class, cfg.feedback.label_values)
    return task_for(model.task, classes=classes, positive_class=model.positive_class)


def check_ready(cfg: DecayguardConfig) -> None:
    """Fail fast, before any flow run, when a monitor run could not work."""
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        champion_baseline(cfg, engine)
    finally:
        engine.dispose()


def monitor_once(
    cfg: DecayguardConfig,
    now: datetime | None = None,
    *,
    notifier: Notifier | None = None,
) -> MonitorOutcome:
    """Check the active champion over the window ending ``now``; raise and resolve alerts."""
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        baseline = champion_baseline(cfg, engine)
        report = run_checks(cfg, engine, baseline, now)
        tracker = IncidentTracker.for_config(cfg, engine, notifier)
        outcomes = tracker.process(report.signals, now=report.now)
        return MonitorOutcome(report, outcomes, decay_onset(cfg, engine))
    finally:
        engine.dispose()


def decay_onset(cfg: DecayguardConfig, engine: Engine) -> datetime | None:
    """Where the model's open decay began, as far as the monitor can tell. A strategy's
    decay incident opens at the end of its first decayed window, which reaches back that
    strategy's window length: the onset lies inside it, so inside every open strategy's first
    window — after the latest of their starts. ``None`` when no decay incident is open."""
    from decayguard.alerts.incidents import open_incidents

    mon = cfg.monitoring
    hours = {
        "proxy": mon.window_hours,
        "review": mon.review_window_hours,
        "realized": mon.labels_window_hours,
    }
    starts = []
    for incident in open_incidents(engine, cfg.model.name):
        rule = str(incident["rule"])
        strategy = rule.removeprefix("decay.")
        opened = incident["opened_at"]
        if rule.startswith("decay.") and strategy in hours and isinstance(opened, datetime):
            starts.append(opened - timedelta(hours=hours[strategy]))
    return max(starts) if starts else None
