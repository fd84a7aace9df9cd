"""``advance``: one release step for a model, whoever runs it (the release flow, the CLI, the
API, a backtest); and the people's verbs, ``promote`` and ``rollback``.

Every call first finishes what an earlier run left half done (:func:`reconcile`: the store's
transitions are the truth; MLServer, MLflow and the deployments table are brought in line),
then decides, then moves the candidate at most one step and applies that step's side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from decayguard.alerts.notify import Notifier
from decayguard.config import DecayguardConfig
from decayguard.registry.interface import ModelRegistry

EventSink = Callable[[str, dict[str, Any]], None]
"""Receives ``(event name, payload)`` after a promotion or rollback is applied: the release
flow passes Prefect's ``emit_event`` (names in :mod:`decayguard.flows.names`)."""


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
    message: str = ""

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
) -> AdvanceOutcome:
    """Recover, judge the candidate with the evidence up to ``now``, move it at most one step.

    ``server_url``: the running MLServer (default: the configured one, when it answers).
    """
    raise NotImplementedError


def promote(
    cfg: DecayguardConfig,
    version: str | None = None,
    *,
    reason: str,
    actor: str,
    registry: ModelRegistry | None = None,
    server_url: str | None = None,
    notifier: Notifier | None = None,
    events: EventSink | None = None,
) -> AdvanceOutcome:
    """A person promotes the candidate (or ``version``) to champion now; ``reason`` is
    required and audited. :class:`IllegalTransition` when the version cannot be promoted."""
    raise NotImplementedError


def rollback(
    cfg: DecayguardConfig,
    version: str | None = None,
    *,
    reason: str,
    actor: str,
    registry: ModelRegistry | None = None,
    server_url: str | None = None,
    notifier: Notifier | None = None,
    events: EventSink | None = None,
) -> AdvanceOutcome:
    """A person rolls back: the candidate leaves live traffic; or, with no candidate (or
    ``version`` = the champion), the champion is rolled back and the previous champion
    serves again. ``reason`` is required and audited."""
    raise NotImplementedError


@dataclass(frozen=True)
class ReleaseStatus:
    model_name: str
    champion: dict[str, Any] | None
    """:meth:`ReleaseRow.to_dict` of the champion."""
    candidate: dict[str, Any] | None
    """The version on trial or waiting (validated), or ``None``."""
    last_advance: dict[str, Any] | None
    """The evidence of the latest automatic transition or wait (judge, guard)."""
    unapplied: int
    """Transitions whose side effects are not yet known to be done (a crash in between)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "champion": self.champion,
            "candidate": self.candidate,
            "last_advance": self.last_advance,
            "unapplied": self.unapplied,
        }


def release_status(cfg: DecayguardConfig) -> ReleaseStatus:
    """Which version is champion, which is on trial and in which stage."""
    raise NotImplementedError


def release_history(cfg: DecayguardConfig, version: str | None = None) -> list[dict[str, Any]]:
    """Every transition, oldest first: ``version``, ``from_stage``, ``to_stage``, ``action``,
    ``actor``, ``reason``, ``evidence``, ``created_at``, ``applied_at`` — which version served
    when, why, and who decided."""
    raise NotImplementedError


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)
