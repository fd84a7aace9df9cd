"""Releases: each model version's stage, and every transition with who decided and why.

The stage table is :mod:`decayguard.release.stages` (pure); this module is where a move
happens: :func:`apply_moves` checks each move against the table *inside* the transaction that
makes it, writes the transition rows and their audit rows, and commits them together. Two
partial unique indexes make "one champion, at most one challenger on live traffic" a property
of the store: a concurrent run that would break it fails its transaction instead.

A transition's side effects (MLServer, MLflow, the deployments table) are applied after the
commit by :mod:`decayguard.release.reconcile`, which sets ``applied_at``; a transition left
unapplied by a crash is what the next run finishes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from decayguard.release.stages import CANDIDATE_STAGES, Action, IllegalTransition, Stage, next_stage
from decayguard.store.schema import as_utc, audit_events, release_transitions, releases


@dataclass(frozen=True)
class ReleaseRow:
    """One model version as a release: where its artifact is and which stage it is in."""

    model_name: str
    version: str
    stage: Stage
    artifact_uri: str
    artifact_sha256: str
    parent_version: str | None
    traffic_share: float | None
    """The canary's share of the traffic (``None`` outside canary)."""
    created_at: datetime
    stage_since: datetime
    trial_started_at: datetime | None
    """When its live trial (shadow or canary, whichever came first) began."""

    @classmethod
    def from_row(cls, row: Any) -> ReleaseRow:
        m = row._mapping
        return cls(
            model_name=m["model_name"],
            version=m["version"],
            stage=Stage(m["stage"]),
            artifact_uri=m["artifact_uri"],
            artifact_sha256=m["artifact_sha256"],
            parent_version=m["parent_version"],
            traffic_share=m["traffic_share"],
            created_at=m["created_at"],
            stage_since=m["stage_since"],
            trial_started_at=m["trial_started_at"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "stage": self.stage.value,
            "artifact_uri": self.artifact_uri,
            "artifact_sha256": self.artifact_sha256,
            "parent_version": self.parent_version,
            "traffic_share": self.traffic_share,
            "created_at": self.created_at.isoformat(),
            "stage_since": self.stage_since.isoformat(),
            "trial_started_at": self.trial_started_at.isoformat()
            if self.trial_started_at
            else None,
        }


@dataclass(frozen=True)
class Move:
    """One version's transition within :func:`apply_moves`."""

    version: str
    action: Action
    expected: Stage | None = None
    """The stage the caller decided on; another stage at commit time refuses the move
    (a concurrent run or a person got there first)."""
    traffic_share: float | None = None
    """The canary share (``start_canary``)."""


def _get(conn: Connection, model_name: str, version: str, *, lock: bool) -> ReleaseRow | None:
    query = sa.select(releases).where(
        releases.c.model_name == model_name, releases.c.version == version
    )
    if lock:
        query = query.with_for_update()  # PostgreSQL row lock; SQLite serialises writers
    row = conn.execute(query).first()
    return None if row is None else ReleaseRow.from_row(row)


def _transition_row(
    conn: Connection,
    model_name: str,
    version: str,
    from_stage: Stage | None,
    to_stage: Stage,
    action: str,
    *,
    actor: str,
    reason: str,
    evidence: Mapping[str, Any] | None,
    now: datetime,
    applied: bool,
) -> int:
    new_id = conn.execute(
        release_transitions.insert().returning(release_transitions.c.id),
        {
            "model_name": model_name,
            "version": version,
            "from_stage": None if from_stage is None else from_stage.value,
            "to_stage": to_stage.value,
            "action": action,
            "actor": actor,
            "reason": reason,
            "evidence": dict(evidence) if evidence else None,
            "created_at": now,
            "applied_at": now if applied else None,
        },
    ).scalar_one()
    conn.execute(
        audit_events.insert(),
        {
            "ts": now,
            "actor": actor,
            "action": f"release.{to_stage.value}",
            "model_name": model_name,
            "details": {
                "version": version,
                "from": None if from_stage is None else from_stage.value,
                "to": to_stage.value,
                "reason": reason,
                "transition_id": int(new_id),
            },
        },
    )
    return int(new_id)


def register_release(
    engine: Engine,
    model_name: str,
    version: str,
    *,
    artifact_uri: str,
    artifact_sha256: str,
    parent_version: str | None = None,
    actor: str = "decayguard",
    reason: str = "registered",
    now: datetime | None = None,
) -> ReleaseRow:
    """Record ``version`` as ``registered`` (idempotent: an existing release is returned as
    it is, provided its artifact hash is the same)."""
    now = as_utc(now or datetime.now(UTC))
    with engine.begin() as conn:
        existing = _get(conn, model_name, version, lock=True)
        if existing is not None:
            if existing.artifact_sha256 != artifact_sha256:
                raise IllegalTransition(
                    f"{model_name} version {version} is already a release with artifact "
                    f"{existing.artifact_sha256[:12]}, not {artifact_sha256[:12]}"
                )
            return existing
        conn.execute(
            releases.insert(),
            {
                "model_name": model_name,
                "version": version,
                "stage": Stage.REGISTERED.value,
                "artifact_uri": artifact_uri,
                "artifact_sha256": artifact_sha256,
                "parent_version": parent_version,
                "traffic_share": None,
                "created_at": now,
                "stage_since": now,
                "trial_started_at": None,
            },
        )
        _transition_row(
            conn,
            model_name,
            version,
            None,
            Stage.REGISTERED,
            "register",
            actor=actor,
            reason=reason,
            evidence=None,
            now=now,
            applied=True,  # registering has no side effect outside the store
        )
        row = _get(conn, model_name, version, lock=False)
    assert row is not None
    return row


def apply_moves(
    engine: Engine,
    model_name: str,
    moves: Sequence[Move],
    *,
    actor: str,
    reason: str,
    evidence: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Make every move in one transaction (in order: supersede the old champion before
    promoting the new one), with a transition and an audit row each; returns the transition
    ids. :class:`IllegalTransition` (nothing committed) when a move is not in the table, a
    version is not a release, a stage is not the ``expected`` one, or the result would have
    two champions or two candidates."""
    now = as_utc(now or datetime.now(UTC))
    ids: list[int] = []
    try:
        with engine.begin() as conn:
            for move in moves:
                row = _get(conn, model_name, move.version, lock=True)
                if row is None:
                    raise IllegalTransition(f"{model_name} version {move.version} is not a release")
                if move.expected is not None and row.stage != move.expected:
                    raise IllegalTransition(
                        f"{model_name} version {move.version} is {row.stage.value}, not "
                        f"{move.expected.value}: another run or a person moved it first"
                    )
                to = next_stage(row.stage, move.action)
                values: dict[str, Any] = {"stage": to.value, "stage_since": now}
                values["traffic_share"] = move.traffic_share if to == Stage.CANARY else None
                if to in CANDIDATE_STAGES and row.trial_started_at is None:
                    values["trial_started_at"] = now
                conn.execute(
                    releases.update()
                    .where(releases.c.model_name == model_name, releases.c.version == move.version)
                    .values(**values)
                )
                ids.append(
                    _transition_row(
                        conn,
                        model_name,
                        move.version,
                        row.stage,
                        to,
                        move.action.value,
                        actor=actor,
                        reason=reason,
                        evidence=evidence,
                        now=now,
                        applied=False,
                    )
                )
    except sa.exc.IntegrityError as exc:
        raise IllegalTransition(
            f"{model_name}: the moves {[f'{m.version} {m.action.value}' for m in moves]} would "
            "leave two champions or two challengers on live traffic"
        ) from exc
    return ids


def get_release(engine: Engine, model_name: str, version: str) -> ReleaseRow | None:
    with engine.connect() as conn:
        return _get(conn, model_name, version, lock=False)


def list_releases(
    engine: Engine, model_name: str, stages: Sequence[Stage] | None = None
) -> list[ReleaseRow]:
    """The model's releases (optionally in ``stages``), oldest first."""
    query = sa.select(releases).where(releases.c.model_name == model_name)
    if stages is not None:
        query = query.where(releases.c.stage.in_([s.value for s in stages]))
    with engine.connect() as conn:
        return [ReleaseRow.from_row(r) for r in conn.execute(query.order_by(releases.c.id))]


def release_in(engine: Engine, model_name: str, stage: Stage) -> ReleaseRow | None:
    """The latest release in ``stage`` (the champion, the candidate...), or ``None``."""
    found = list_releases(engine, model_name, [stage])
    return found[-1] if found else None


def candidate_release(engine: Engine, model_name: str) -> ReleaseRow | None:
    """The version on live traffic beside the champion (shadow or canary), or ``None``."""
    found = list_releases(engine, model_name, sorted(CANDIDATE_STAGES))
    return found[-1] if found else None


def trial_release(engine: Engine, model_name: str) -> ReleaseRow | None:
    """The version on trial: the one on live traffic (shadow or canary), else the newest
    validated one waiting for its trial, or ``None``."""
    return candidate_release(engine, model_name) or release_in(engine, model_name, Stage.VALIDATED)


def unapplied_transitions(engine: Engine, model_name: str) -> list[dict[str, Any]]:
    """Transitions whose side effects are not known to be done, oldest first."""
    query = (
        sa.select(release_transitions)
        .where(
            release_transitions.c.model_name == model_name,
            release_transitions.c.applied_at.is_(None),
        )
        .order_by(release_transitions.c.id)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def mark_applied(engine: Engine, ids: Sequence[int], now: datetime | None = None) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            release_transitions.update()
            .where(release_transitions.c.id.in_(list(ids)))
            .values(applied_at=as_utc(now or datetime.now(UTC)))
        )


def release_history(
    engine: Engine, model_name: str, version: str | None = None
) -> list[dict[str, Any]]:
    """Every transition of the model (or one version), oldest first: which version entered
    which stage when, by whose decision, why, and on what evidence."""
    query = sa.select(release_transitions).where(release_transitions.c.model_name == model_name)
    if version is not None:
        query = query.where(release_transitions.c.version == version)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(release_transitions.c.id))]
