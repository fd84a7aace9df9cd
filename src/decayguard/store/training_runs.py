"""Retraining runs and their leases: what makes "one training per trigger" hold.

Prefect's automations create a new flow run for a re-delivered event (the ``RunDeployment``
action's idempotency key is per invocation), and a burst can straddle a trigger window. So a
retraining first *claims* its trigger in the store: :func:`claim_training` inserts a
``running`` row, and two partial unique indexes refuse a second claim while one is running
for the model, or when the trigger window already had a retraining (running, registered or
failed). A claim whose process died is recognised by its expired lease and released.

``as_of`` is the retraining's clock (simulated in backtests and the demo); leases use the
wall clock, because they guard against processes that died.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.store.schema import TRAINING_HELD_STATUSES, as_utc, training_runs

RUN_STATUSES = ("running", "registered", "waiting_for_labels", "failed", "skipped", "abandoned")


@dataclass(frozen=True)
class TrainingClaim:
    """The outcome of :func:`claim_training`: a run id, or who holds the trigger."""

    run_id: str | None
    refused_by: dict[str, Any] | None = None
    """The run that holds the model or the trigger window when the claim is refused."""

    @property
    def granted(self) -> bool:
        return self.run_id is not None


def _release_abandoned(engine: Engine, model_name: str, wall: datetime) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            training_runs.update()
            .where(
                training_runs.c.model_name == model_name,
                training_runs.c.status == "running",
                training_runs.c.lease_expires_at < wall,
            )
            .values(
                status="abandoned",
                finished_at=wall,
                message="lease expired: the process running it died or hung",
            )
        )
        return int(result.rowcount or 0)


def claim_training(
    engine: Engine,
    model_name: str,
    *,
    trigger: str,
    trigger_key: str,
    as_of: datetime,
    lease: timedelta,
    reason: str | None = None,
    parent_version: str | None = None,
) -> TrainingClaim:
    """Start a retraining of ``model_name`` for ``trigger_key`` unless one holds it."""
    wall = datetime.now(UTC)
    _release_abandoned(engine, model_name, wall)
    run_id = uuid.uuid4().hex
    try:
        with engine.begin() as conn:
            conn.execute(
                training_runs.insert(),
                {
                    "id": run_id,
                    "model_name": model_name,
                    "trigger": trigger,
                    "trigger_key": trigger_key,
                    "reason": reason,
                    "status": "running",
                    "as_of": as_utc(as_of),
                    "started_at": wall,
                    "lease_expires_at": wall + lease,
                    "parent_version": parent_version,
                },
            )
    except sa.exc.IntegrityError:
        return TrainingClaim(None, refused_by=_holder(engine, model_name, trigger_key))
    return TrainingClaim(run_id)


def _holder(engine: Engine, model_name: str, trigger_key: str) -> dict[str, Any] | None:
    query = (
        sa.select(training_runs)
        .where(training_runs.c.model_name == model_name)
        .where(
            (training_runs.c.status == "running")
            | (
                (training_runs.c.trigger_key == trigger_key)
                & training_runs.c.status.in_(TRAINING_HELD_STATUSES)
            )
        )
        .order_by(training_runs.c.started_at.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else dict(row._mapping)


def finish_training(
    engine: Engine,
    run_id: str,
    status: str,
    *,
    version: str | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Close a claimed run with its outcome."""
    if status not in RUN_STATUSES or status == "running":
        raise ValueError(f"not a final training status: {status!r}")
    with engine.begin() as conn:
        conn.execute(
            training_runs.update()
            .where(training_runs.c.id == run_id, training_runs.c.status == "running")
            .values(
                status=status,
                version=version,
                message=message,
                details=details,
                finished_at=datetime.now(UTC),
            )
        )


def last_training(
    engine: Engine,
    model_name: str,
    *,
    statuses: tuple[str, ...] = ("running", "registered"),
    exclude_run: str | None = None,
) -> dict[str, Any] | None:
    """The most recent run (by ``as_of``) in one of ``statuses``, other than ``exclude_run``."""
    query = (
        sa.select(training_runs)
        .where(training_runs.c.model_name == model_name, training_runs.c.status.in_(statuses))
        .where(training_runs.c.id != (exclude_run or ""))
        .order_by(training_runs.c.as_of.desc(), training_runs.c.started_at.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else dict(row._mapping)


def training_history(
    engine: Engine, model_name: str, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Every retraining attempt of a model (started at or after ``since``), oldest first."""
    query = (
        sa.select(training_runs)
        .where(training_runs.c.model_name == model_name)
        .order_by(training_runs.c.started_at, training_runs.c.id)
    )
    if since is not None:
        query = query.where(training_runs.c.started_at >= as_utc(since))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
