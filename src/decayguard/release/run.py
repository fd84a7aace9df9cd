"""``advance``: one release step for a model, whoever runs it (the release flow, the CLI, the
API, a backtest); and the people's verbs, ``promote`` and ``rollback``.

Every call first finishes what an earlier run left half done (:func:`reconcile`: the store's
transitions are the truth; MLServer, MLflow and the deployments table are brought in line),
then decides, then moves the candidate at most one step and applies that step's side effects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from decayguard.alerts.notify import Notifier
from decayguard.config import DecayguardConfig
from decayguard.errors import ServiceError
from decayguard.registry.interface import ModelRegistry
from decayguard.release.judge import (
    GuardVerdict,
    JudgeVerdict,
    RolloutJudge,
    guard,
    next_step,
    request_losses,
)
from decayguard.release.reconcile import EventSink
from decayguard.release.stages import Action
from decayguard.store import audit
from decayguard.store.releases import Move, ReleaseRow

log = logging.getLogger("decayguard.release")


@dataclass(frozen=True)
class ReleaseStep:
    """One transition this call made."""

    version: str
    action: str
    from_stage: str | None
    to_stage: str
    reason: str
    actor: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "action": self.action,
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "reason": self.reason,
            "actor": self.actor,
        }


@dataclass
class AdvanceOutcome:
    """What one call did and saw."""

    model_name: str
    now: datetime
    champion: str | None
    """The champion version after the call."""
    candidate: str | None
    """The version on trial (validated, shadow or canary) after the call, or ``None``."""
    stage: str | None
    """The candidate's stage after the call."""
    steps: list[ReleaseStep] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    """Transitions left unapplied by an earlier run whose side effects this call finished."""
    verdict: dict[str, Any] | None = None
    """The judge's verdict (:meth:`JudgeVerdict.to_dict`), when a trial is running."""
    guard: dict[str, Any] | None = None
    """The infrastructure guard's verdict, when a trial is on live traffic."""
    early_signal: dict[str, Any] = field(default_factory=dict)
    """Per arm (version), the monitor's latest label-free estimate of the judged metric:
    what the arms look like before their labels arrive (informs, does not decide)."""
    message: str = ""
    server_loaded: bool = False
    """Whether a running MLServer was asked to load new settings."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "now": self.now.isoformat(),
            "champion": self.champion,
            "candidate": self.candidate,
            "stage": self.stage,
            "steps": [s.to_dict() for s in self.steps],
            "recovered": self.recovered,
            "verdict": self.verdict,
            "guard": self.guard,
            "early_signal": self.early_signal,
            "message": self.message,
        }


def advance(
    cfg: DecayguardConfig,
    now: datetime | None = None,
    *,
    registry: ModelRegistry | None = None,
    server_url: str | None = None,
    notifier: Notifier | None = None,
    events: EventSink | None = None,
    actor: str = "decayguard",
    labels_as_of: datetime | None = None,
) -> AdvanceOutcome:
    """Recover, judge the candidate with the evidence up to ``now``, move it at most one step.

    ``now`` is the release's clock (simulated in the demo and backtests: how long a stage has
    lasted, which predictions belong to the trial); ``labels_as_of`` the moment the labels
    and reviews are read at (default: the wall clock, like the retraining's).
    ``server_url``: the running MLServer (default: the configured one, when it answers).
    """
    from decayguard.release.reconcile import reconcile, server_url_for
    from decayguard.release.stages import Stage
    from decayguard.store.migrate import migrated_engine
    from decayguard.store.releases import Move, candidate_release, list_releases, release_in

    moment = _now(now)
    url = server_url_for(cfg, server_url)
    name = cfg.model.name
    with migrated_engine(cfg.resolved_store_url) as engine:
        recovered = reconcile(
            cfg, engine, registry=registry, server_url=url, notifier=notifier, events=events
        )
        champion = release_in(engine, name, Stage.CHAMPION)
        if champion is None:
            outcome = _outcome(engine, cfg, moment)
            outcome.message = "no champion release: deploy one (decayguard serve deploy)"
            return outcome
        candidate = candidate_release(engine, name)
        waiting = list_releases(engine, name, [Stage.VALIDATED])
        stale = waiting[:-1] if candidate is None else []
        if stale:
            _apply(
                cfg,
                engine,
                [Move(r.version, Action.SUPERSEDE, expected=Stage.VALIDATED) for r in stale],
                actor=actor,
                reason=f"version {waiting[-1].version}, validated later, takes its place",
                now=moment,
            )
        trial = candidate or (waiting[-1] if waiting else None)
        if trial is None:
            outcome = _outcome(engine, cfg, moment)
            outcome.recovered = recovered.applied
            outcome.message = f"champion {champion.version}; no challenger"
            return outcome
        verdict, guard_verdict, early = None, None, {}
        if trial.stage in (Stage.SHADOW, Stage.CANARY):
            verdict = _verdict(cfg, engine, champion, trial, moment, labels_as_of)
            guard_verdict = _guard(cfg, url, champion.version, trial.version)
            since = trial.trial_started_at or trial.stage_since
            early = _early_signal(cfg, engine, [champion.version, trial.version], since)
        step = next_step(
            trial.stage,
            hours_in_stage=_hours(moment, trial.stage_since),
            hours_in_trial=_hours(moment, trial.trial_started_at or trial.stage_since),
            verdict=verdict,
            guard_verdict=guard_verdict,
            shadow=cfg.release.shadow,
            canary_share=cfg.release.canary_share,
            min_shadow_hours=cfg.release.min_shadow_hours,
            canary_hours=cfg.release.canary_hours,
            min_labels=cfg.release.min_labels,
            max_hours=cfg.release.max_hours,
            auto_promote=cfg.release.auto_promote,
        )
        evidence: dict[str, Any] = {
            "now": moment.isoformat(),
            "stage": trial.stage.value,
            "verdict": verdict.to_dict() if verdict else None,
            "guard": guard_verdict.to_dict() if guard_verdict else None,
            "early_signal": early,
        }
        if step.action is None:
            audit(
                engine,
                "release.checked",
                actor=actor,
                model_name=name,
                details={"version": trial.version, "reason": step.reason, **evidence},
            )
            outcome = _outcome(engine, cfg, moment)
        else:
            moves = [Move(trial.version, step.action, expected=trial.stage)]
            if step.action == Action.PROMOTE:
                moves.insert(0, Move(champion.version, Action.SUPERSEDE, expected=Stage.CHAMPION))
            elif step.action == Action.START_CANARY:
                moves[0] = Move(
                    trial.version,
                    step.action,
                    expected=trial.stage,
                    traffic_share=cfg.release.canary_share,
                )
            outcome = _apply(
                cfg,
                engine,
                moves,
                actor=actor,
                reason=step.reason,
                evidence=evidence,
                now=moment,
                registry=registry,
                server_url=url,
                notifier=notifier,
                events=events,
            )
        outcome.recovered = recovered.applied
        outcome.verdict = verdict.to_dict() if verdict else None
        outcome.guard = guard_verdict.to_dict() if guard_verdict else None
        outcome.early_signal = early
        outcome.message = step.reason
        return outcome


def _hours(now: datetime, since: datetime) -> float:
    return max(0.0, (now - since).total_seconds() / 3600.0)


def _verdict(
    cfg: DecayguardConfig,
    engine: Engine,
    champion: ReleaseRow,
    trial: ReleaseRow,
    now: datetime,
    labels_as_of: datetime | None,
) -> JudgeVerdict:
    """The judge on every paired outcome of the trial so far.

    Reviews join the labels in the judge's stream when they are a uniform sample of the
    traffic (``feedback.review_strategy: uniform``); a weighted sample (uncertainty or
    stratified sampling) would need importance weights, and the exact confidence sequence
    the judge uses for 0-1 losses takes unweighted outcomes only, so those reviews inform
    the per-arm reviewed figures of the monitor, not the judge.
    """
    from decayguard.feedback.arms import paired_outcomes
    from decayguard.training.gate import LOSSES
    from decayguard.watch.baseline import load_baseline
    from decayguard.watch.run import project_task

    task = project_task(cfg, engine)
    metric = cfg.release.metric or cfg.gate_metric
    start = trial.trial_started_at or trial.stage_since
    paired = paired_outcomes(
        engine,
        cfg.model.name,
        champion.version,
        trial.version,
        start,
        _now(labels_as_of),
        task=task,
        use_reviews=cfg.feedback.review_strategy == "uniform",
    )
    differences = np.zeros(0)
    margin = cfg.release.margin if cfg.release.margin is not None else cfg.gate.margin
    if margin is None and metric in LOSSES:
        # 1 % of the champion's loss on its own holdout: fixed for the whole trial
        state = cfg.path(cfg.project.state_dir)
        reference = load_baseline(state, cfg.model.name, champion.version).reference_metrics
        if metric in reference:
            value = reference[metric] ** 2 if metric == "rmse" else reference[metric]
            margin = 0.01 * float(value)  # rmse: the judge compares squared errors
    if paired.n:
        loss_c, loss_h, _ = request_losses(
            task, metric, paired.y_true, paired.champion, paired.challenger
        )
        differences = loss_h - loss_c
        if margin is None and metric in LOSSES:
            margin = 0.01 * float(np.mean(loss_c))
    judge = RolloutJudge(
        margin=0.01 if margin is None else margin, confidence=cfg.release.confidence, metric=metric
    )
    return judge.decide(differences, paired.weights if paired.n else None)


def _early_signal(
    cfg: DecayguardConfig, engine: Engine, versions: list[str], since: datetime
) -> dict[str, Any]:
    """The latest label-free estimate of the judged metric per arm (the monitor's points)."""
    from decayguard.store.events import read_metric_points

    metric = cfg.release.metric or cfg.gate_metric
    points = read_metric_points(
        engine, cfg.model.name, metric=f"estimated.{metric}", strategy="proxy", since=since
    )
    signal: dict[str, Any] = {}
    for version in versions:
        rows = points[points["model_version"] == version] if len(points) else points
        if len(rows):
            last = rows.iloc[-1]
            signal[version] = {
                "metric": f"estimated.{metric}",
                "value": _finite(last["value"]),
                "lower": _finite(last["lower"]),
                "upper": _finite(last["upper"]),
                "window_end": last["window_end"].isoformat(),
            }
    return signal


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _guard(
    cfg: DecayguardConfig, url: str | None, champion: str, challenger: str
) -> GuardVerdict | None:
    """The infrastructure guard on the serving metrics (``None``: no server to ask)."""
    from decayguard.serving.arm_metrics import read_arm_health

    if url is None:
        return None
    metrics_url = f"http://{cfg.serving.host}:{cfg.serving.metrics_port}/metrics"
    try:
        health = read_arm_health(metrics_url, cfg.model.name)
    except ServiceError as exc:
        log.warning("%s: no serving metrics for the guard: %s", cfg.model.name, exc)
        return None
    r = cfg.release
    return guard(
        health.get(champion),
        health.get(challenger),
        max_error_rate=r.max_error_rate,
        max_latency_ratio=r.max_latency_ratio,
        max_latency_ms=r.max_latency_ms,
        min_requests=r.min_requests,
    )


def _outcome(engine: Engine, cfg: DecayguardConfig, now: datetime) -> AdvanceOutcome:
    from decayguard.release.stages import Stage
    from decayguard.store.releases import release_in, trial_release

    name = cfg.model.name
    champion = release_in(engine, name, Stage.CHAMPION)
    trial = trial_release(engine, name)
    return AdvanceOutcome(
        model_name=name,
        now=now,
        champion=champion.version if champion else None,
        candidate=trial.version if trial else None,
        stage=trial.stage.value if trial else None,
    )


def _apply(
    cfg: DecayguardConfig,
    engine: Engine,
    moves: list[Move],
    *,
    actor: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
    now: datetime | None = None,
    registry: ModelRegistry | None = None,
    server_url: str | None = None,
    notifier: Notifier | None = None,
    events: EventSink | None = None,
) -> AdvanceOutcome:
    """Commit ``moves`` (one transaction), then apply their side effects."""
    from decayguard.release.failpoints import failpoint
    from decayguard.release.reconcile import reconcile
    from decayguard.store.releases import apply_moves, get_release

    moment = _now(now)
    before = {m.version: get_release(engine, cfg.model.name, m.version) for m in moves}
    if moves:
        apply_moves(
            engine, cfg.model.name, moves, actor=actor, reason=reason, evidence=evidence, now=now
        )
    failpoint("after_transition")
    done = reconcile(
        cfg, engine, registry=registry, server_url=server_url, notifier=notifier, events=events
    )
    outcome = _outcome(engine, cfg, moment)
    outcome.server_loaded = done.server_loaded
    for m in moves:
        was, after = before[m.version], get_release(engine, cfg.model.name, m.version)
        outcome.steps.append(
            ReleaseStep(
                version=m.version,
                action=m.action.value,
                from_stage=was.stage.value if was else None,
                to_stage=after.stage.value if after else "?",
                reason=reason,
                actor=actor,
            )
        )
    if done.compensated:
        outcome.message = "MLServer refused the new settings; the previous model keeps serving"
    return outcome


def apply_and_reconcile(
    cfg: DecayguardConfig,
    moves: list[Move],
    *,
    actor: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
    registry: ModelRegistry | None = None,
    server_url: str | None = None,
    notifier: Notifier | None = None,
    events: EventSink | None = None,
    now: datetime | None = None,
) -> AdvanceOutcome:
    """A person's moves (``serve deploy``, ``release promote``...): finish any earlier
    run's work, commit the moves, apply them. ``now``: the release's clock (default: the
    wall clock; simulated in the demo)."""
    from decayguard.release.reconcile import reconcile, server_url_for
    from decayguard.store.migrate import migrated_engine

    url = server_url_for(cfg, server_url)
    with migrated_engine(cfg.resolved_store_url) as engine:
        recovered = reconcile(
            cfg, engine, registry=registry, server_url=url, notifier=notifier, events=events
        )
        outcome = _apply(
            cfg,
            engine,
            moves,
            actor=actor,
            reason=reason,
            evidence=evidence,
            now=now,
            registry=registry,
            server_url=url,
            notifier=notifier,
            events=events,
        )
        outcome.recovered = recovered.applied
        outcome.message = outcome.message or reason
        return outcome


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)
