"""A person's release decisions, and what people read: ``promote``, ``rollback``,
``release_status``, ``release_history`` (the CLI's and the API's core).

A person's promotion or rollback is a transition like any other: it needs a reason, is
audited with its actor, and goes through :func:`decayguard.release.run.apply_and_reconcile`,
the one path that applies transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from decayguard.alerts.notify import Notifier
from decayguard.config import DecayguardConfig
from decayguard.errors import InputValidationError
from decayguard.registry.interface import ModelRegistry
from decayguard.release.reconcile import EventSink
from decayguard.release.run import AdvanceOutcome, apply_and_reconcile
from decayguard.release.stages import Action
from decayguard.store.releases import Move


def _require_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise InputValidationError("reason", "a person's promotion or rollback needs a reason")
    return reason.strip()


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
    now: datetime | None = None,
) -> AdvanceOutcome:
    """A person promotes the candidate (or ``version``) to champion now; ``reason`` is
    required and audited. :class:`IllegalTransition` when the version cannot be promoted."""
    from decayguard.release.stages import IllegalTransition, Stage
    from decayguard.store.migrate import migrated_engine
    from decayguard.store.releases import Move, get_release, release_in, trial_release

    why = _require_reason(reason)
    name = cfg.model.name
    with migrated_engine(cfg.resolved_store_url) as engine:
        champion = release_in(engine, name, Stage.CHAMPION)
        if version is None:
            target = trial_release(engine, name)
            if target is None:
                raise IllegalTransition(f"{name}: no challenger to promote")
        else:
            target = get_release(engine, name, version)
            if target is None:
                raise IllegalTransition(f"{name} version {version} is not a release")
    if champion is not None and champion.version == target.version:
        raise IllegalTransition(f"{name} version {target.version} is already the champion")
    action = (
        Action.RESTORE if target.stage in (Stage.SUPERSEDED, Stage.ROLLED_BACK) else Action.PROMOTE
    )
    moves = [Move(target.version, action, expected=target.stage)]
    if champion is not None:
        moves.insert(0, Move(champion.version, Action.SUPERSEDE, expected=Stage.CHAMPION))
    return apply_and_reconcile(
        cfg,
        moves,
        actor=actor,
        reason=why,
        registry=registry,
        server_url=server_url,
        notifier=notifier,
        events=events,
        now=now,
    )


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
    now: datetime | None = None,
) -> AdvanceOutcome:
    """A person rolls back: the candidate leaves live traffic; or, with no candidate (or
    ``version`` = the champion), the champion is rolled back and the previous champion
    serves again. ``reason`` is required and audited."""
    from decayguard.release.stages import IllegalTransition, Stage
    from decayguard.store.migrate import migrated_engine
    from decayguard.store.releases import (
        Move,
        candidate_release,
        get_release,
        release_history,
        release_in,
    )

    why = _require_reason(reason)
    name = cfg.model.name
    with migrated_engine(cfg.resolved_store_url) as engine:
        champion = release_in(engine, name, Stage.CHAMPION)
        candidate = candidate_release(engine, name)
        target = get_release(engine, name, version) if version else (candidate or champion)
        if target is None:
            raise IllegalTransition(
                f"{name}: no release {version or ''} to roll back".replace("  ", " ")
            )
        moves: list[Move]
        if target.stage == Stage.CHAMPION:
            previous = [
                t["version"]
                for t in release_history(engine, name)
                if t["from_stage"] == "champion"
                and t["to_stage"] == "superseded"
                and t["version"] != target.version
            ]
            usable = [
                v
                for v in reversed(previous)
                if (r := get_release(engine, name, v)) is not None and r.stage == Stage.SUPERSEDED
            ]
            if not usable:
                raise IllegalTransition(
                    f"{name} version {target.version} is the champion and no earlier champion "
                    "is left to restore"
                )
            moves = [
                Move(target.version, Action.ROLL_BACK, expected=Stage.CHAMPION),
                Move(usable[0], Action.RESTORE, expected=Stage.SUPERSEDED),
            ]
            if candidate is not None:
                moves.insert(0, Move(candidate.version, Action.ROLL_BACK, expected=candidate.stage))
        elif target.stage in (Stage.REGISTERED, Stage.VALIDATED):
            moves = [Move(target.version, Action.REJECT, expected=target.stage)]
        else:
            moves = [Move(target.version, Action.ROLL_BACK, expected=target.stage)]
    return apply_and_reconcile(
        cfg,
        moves,
        actor=actor,
        reason=why,
        registry=registry,
        server_url=server_url,
        notifier=notifier,
        events=events,
        now=now,
    )


@dataclass(frozen=True)
class ReleaseStatus:
    model_name: str
    champion: dict[str, Any] | None
    """:meth:`ReleaseRow.to_dict` of the champion."""
    candidate: dict[str, Any] | None
    """The version on trial or waiting (validated), or ``None``."""
    last_advance: dict[str, Any] | None
    """The evidence of the latest automatic check (judge, guard, what it waits for)."""
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
    from decayguard.release.stages import Stage
    from decayguard.store.events import read_audit
    from decayguard.store.migrate import migrated_engine
    from decayguard.store.releases import release_in, trial_release, unapplied_transitions

    name = cfg.model.name
    with migrated_engine(cfg.resolved_store_url) as engine:
        champion = release_in(engine, name, Stage.CHAMPION)
        trial = trial_release(engine, name)
        checks = read_audit(engine, name, action="release.checked", last=1)
        return ReleaseStatus(
            model_name=name,
            champion=champion.to_dict() if champion else None,
            candidate=trial.to_dict() if trial else None,
            last_advance=_jsonable(checks[-1]) if checks else None,
            unapplied=len(unapplied_transitions(engine, name)),
        )


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def release_history(cfg: DecayguardConfig, version: str | None = None) -> list[dict[str, Any]]:
    """Every transition, oldest first: ``version``, ``from_stage``, ``to_stage``, ``action``,
    ``actor``, ``reason``, ``evidence``, ``created_at``, ``applied_at`` — which version served
    when, why, and who decided."""
    from decayguard.store.migrate import migrated_engine
    from decayguard.store.releases import release_history as history

    with migrated_engine(cfg.resolved_store_url) as engine:
        return [_jsonable(row) for row in history(engine, cfg.model.name, version)]
