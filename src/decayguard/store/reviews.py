"""Human reviews of sampled predictions: the queue, its progress, and the reviewed sample.

A prediction enters the review queue when the serving runtime drew it for review
(``predictions.review_sampled``) and leaves it once someone labels or skips it. Reviews
are append-only: a later review of the same prediction supersedes the earlier one
(latest wins) and the history stays in the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.store.schema import as_utc, predictions, reviews

SHADOW_ARM = "shadow"
"""The arm of a silent row: a request scored by a version that did not answer it."""

ReviewStatus = Literal["labeled", "skipped"]
REVIEW_STATUSES: tuple[ReviewStatus, ...] = ("labeled", "skipped")


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """One reviewer's verdict on one prediction: a true label, or a skip."""

    prediction_id: str
    model_name: str
    reviewer: str
    status: ReviewStatus
    value: str | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in REVIEW_STATUSES:
            raise ValueError(f"review status must be one of {REVIEW_STATUSES}, got {self.status!r}")
        if (self.status == "labeled") != (self.value is not None):
            raise ValueError("a labeled review needs a value; a skipped one has none")


@dataclass(frozen=True, slots=True)
class ReviewProgress:
    """How far the review queue of one model has got."""

    sampled: int
    labeled: int
    skipped: int

    @property
    def reviewed(self) -> int:
        return self.labeled + self.skipped

    @property
    def pending(self) -> int:
        return self.sampled - self.reviewed


def record_review(engine: Engine, review: ReviewRecord) -> int:
    """Append a review; returns its id. The prediction must exist (foreign key)."""
    created = review.created_at or datetime.now(UTC)
    with engine.begin() as conn:
        return int(
            conn.execute(
                reviews.insert().returning(reviews.c.id),
                {
                    "prediction_id": review.prediction_id,
                    "model_name": review.model_name,
                    "reviewer": review.reviewer,
                    "status": review.status,
                    "value": review.value,
                    "created_at": created,
                },
            ).scalar_one()
        )


def _reviewed_ids() -> sa.Select[tuple[str]]:
    return sa.select(reviews.c.prediction_id).distinct()


def pending_reviews(
    engine: Engine, model_name: str, *, limit: int = 50, exclude: tuple[str, ...] = ()
) -> list[str]:
    """Ids of sampled predictions nobody has reviewed yet, oldest first."""
    query = (
        sa.select(predictions.c.id)
        .where(predictions.c.model_name == model_name)
        .where(predictions.c.review_sampled.is_(True))
        .where(predictions.c.id.not_in(_reviewed_ids()))
        .order_by(predictions.c.ts, predictions.c.id)
        .limit(limit)
    )
    if exclude:
        query = query.where(predictions.c.id.not_in(exclude))
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def _latest_reviews(as_of: datetime | None = None) -> sa.Subquery:
    """The latest review of each prediction (highest id); with ``as_of``, the latest one
    written by then."""
    newest = sa.select(sa.func.max(reviews.c.id).label("id")).group_by(reviews.c.prediction_id)
    if as_of is not None:
        newest = newest.where(reviews.c.created_at <= as_utc(as_of))
    chosen = newest.subquery("newest")
    return sa.select(reviews).join(chosen, chosen.c.id == reviews.c.id).subquery("latest_reviews")


def review_progress(engine: Engine, model_name: str) -> ReviewProgress:
    """Counts of sampled, labeled and skipped predictions (latest review counts)."""
    latest = _latest_reviews()
    sampled = (
        sa.select(sa.func.count())
        .select_from(predictions)
        .where(predictions.c.model_name == model_name, predictions.c.review_sampled.is_(True))
    )
    by_status = (
        sa.select(latest.c.status, sa.func.count())
        .join(predictions, predictions.c.id == latest.c.prediction_id)
        .where(predictions.c.model_name == model_name, predictions.c.review_sampled.is_(True))
        .group_by(latest.c.status)
    )
    with engine.connect() as conn:
        n_sampled = int(conn.execute(sampled).scalar_one())
        counts = {status: int(n) for status, n in conn.execute(by_status)}
    return ReviewProgress(
        sampled=n_sampled, labeled=counts.get("labeled", 0), skipped=counts.get("skipped", 0)
    )


def reviewed_sample(
    engine: Engine,
    model_name: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    version: str | None = None,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """The latest review of each reviewed prediction, with what the model answered and
    the prediction's inclusion probability: columns ``prediction_id, ts, model_version,
    arm, prediction, score, inclusion_prob, review_sampled, status, value, reviewer,
    reviewed_at, answered_id``. ``start``/``end`` select by prediction time
    (``[start, end)``); ``as_of``: the latest review written by then.

    With ``version``, one row per request that version scored and someone reviewed,
    answered or silent: a silent row (arm ``shadow``) reaches the review of the answered
    row it names in ``paired_id``. ``prediction_id``, ``ts``, ``model_version``, ``arm``,
    ``prediction`` and ``score`` are then the version's own row; ``inclusion_prob`` and
    ``review_sampled`` are the answered row's (the one that was drawn for review), and
    ``answered_id`` is that row's id. Without it, ``answered_id`` is ``prediction_id``.
    """
    latest = _latest_reviews(as_of)
    if version is None:
        query = (
            sa.select(*_sample_columns(predictions, predictions, latest))
            .join(latest, latest.c.prediction_id == predictions.c.id)
            .where(_in_range(predictions, model_name, start, end))
            .order_by(predictions.c.ts, predictions.c.id)
        )
    else:
        own, answered = predictions.alias("own"), predictions.alias("answered")
        columns = _sample_columns(own, answered, latest)
        by_itself = (
            sa.select(*columns)
            .select_from(own)
            .join(latest, latest.c.prediction_id == own.c.id)
            .join(answered, answered.c.id == own.c.id)
            .where(_in_range(own, model_name, start, end), own.c.model_version == version)
            .where(own.c.arm != SHADOW_ARM, own.c.paired_id.is_(None))
        )
        # A silent row has its request's time and model: the range is the answered row's,
        # so the silent row is found through the paired_id index (a range on its own time
        # made SQLite scan the window once per review: 55 s for 5,000 reviews).
        through_pair = (
            sa.select(*columns)
            .select_from(latest)
            .join(answered, answered.c.id == latest.c.prediction_id)
            .join(own, own.c.paired_id == answered.c.id)
            .where(_in_range(answered, model_name, start, end), own.c.model_version == version)
        )
        union = sa.union_all(by_itself, through_pair).subquery("scored")
        query = sa.select(union).order_by(union.c.ts, union.c.prediction_id)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))


def _sample_columns(
    own: sa.FromClause, answered: sa.FromClause, latest: sa.Subquery
) -> list[sa.ColumnElement[Any]]:
    return [
        own.c.id.label("prediction_id"),
        own.c.ts,
        own.c.model_version,
        own.c.arm,
        own.c.prediction,
        own.c.score,
        answered.c.inclusion_prob,
        answered.c.review_sampled,
        latest.c.status,
        latest.c.value,
        latest.c.reviewer,
        latest.c.created_at.label("reviewed_at"),
        answered.c.id.label("answered_id"),
    ]


def _in_range(
    rows: sa.FromClause, model_name: str, start: datetime | None, end: datetime | None
) -> sa.ColumnElement[bool]:
    return sa.and_(
        rows.c.model_name == model_name,
        sa.true() if start is None else rows.c.ts >= start,
        sa.true() if end is None else rows.c.ts < end,
    )


def review_history(engine: Engine, prediction_id: str) -> pd.DataFrame:
    """Every review of one prediction, oldest first."""
    query = (
        sa.select(
            reviews.c.id,
            reviews.c.reviewer,
            reviews.c.status,
            reviews.c.value,
            reviews.c.created_at,
        )
        .where(reviews.c.prediction_id == prediction_id)
        .order_by(reviews.c.id)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))
