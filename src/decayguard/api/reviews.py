"""``/api/v1/reviews``: the human-review queue, its progress, and recording verdicts."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from decayguard.api.auth import ReadAccess, WriteAccess
from decayguard.api.deps import QueueDep
from decayguard.api.labels import TextOrNumber
from decayguard.feedback.label_rules import Answer
from decayguard.feedback.review import ReviewItem, ReviewLeases, ReviewQueue
from decayguard.store import review_history

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])


class ProgressOut(BaseModel):
    """How far the review queue has got."""

    sampled: int
    labeled: int
    skipped: int
    reviewed: int
    pending: int


class ReviewItemOut(BaseModel):
    """A prediction waiting for review: its inputs and the model's answer."""

    prediction_id: str
    ts: str
    model_name: str
    model_version: str
    prediction: str | None
    score: float | None
    inclusion_prob: float | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]


class QueueOut(BaseModel):
    """What to review, how far the queue has got, and how to answer."""

    items: list[ReviewItemOut]
    progress: ProgressOut
    answer: Answer
    """``choice``: pick one of ``label_values`` (a classifier); ``value``: type a number (a
    regressor). A classifier whose classes are unknown has ``choice`` with no values: any
    class name is taken."""
    label_values: list[str]
    """The classes to choose from, in order (empty for a regressor)."""


class ReviewIn(BaseModel):
    """A reviewer's verdict: the true label, or a skip."""

    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(min_length=1, max_length=64)
    reviewer: str = Field(min_length=1, max_length=200)
    """Who reviewed (kept with the review)."""
    status: Literal["labeled", "skipped"]
    value: TextOrNumber | None = Field(default=None, max_length=200)
    """The true label, checked like a label delivery (a finite number for a regressor, a
    known class for a classifier); required when labeled, absent when skipped."""


class ReviewOut(BaseModel):
    id: int
    prediction_id: str
    status: str
    value: str | None
    progress: ProgressOut


class ReviewVersionOut(BaseModel):
    id: int
    reviewer: str
    status: str
    value: str | None
    created_at: datetime


def _progress(queue: ReviewQueue) -> dict[str, int]:
    p = queue.progress()
    return {
        "sampled": p.sampled,
        "labeled": p.labeled,
        "skipped": p.skipped,
        "reviewed": p.reviewed,
        "pending": p.pending,
    }


def _item(item: ReviewItem) -> dict[str, Any]:
    return asdict(item)


@router.get("/queue", dependencies=[ReadAccess], response_model=QueueOut)
def get_queue(
    request: Request,
    queue: QueueDep,
    limit: Annotated[int, Query(ge=1, le=200, description="How many items.")] = 1,
    exclude: Annotated[
        list[str] | None, Query(max_length=200, description="Prediction ids to leave out.")
    ] = None,
    reviewer: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Who asks: the items are kept from other reviewers for a while "
            "(feedback.review_lease_seconds).",
        ),
    ] = None,
) -> dict[str, Any]:
    """The oldest predictions waiting for review, the queue's progress, and the label
    values a reviewer chooses from."""
    leave_out = tuple(exclude or ())
    if reviewer is None:
        items = queue.next(limit=limit, exclude=leave_out)
    else:
        leases: ReviewLeases = request.app.state.review_leases
        items = leases.claim(
            reviewer, lambda held: queue.next(limit=limit, exclude=leave_out + held)
        )
    return {
        "items": [_item(i) for i in items],
        "progress": _progress(queue),
        "answer": queue.rules.answer,
        "label_values": queue.label_values,
    }


@router.get("/progress", dependencies=[ReadAccess], response_model=ProgressOut)
def get_progress(queue: QueueDep) -> dict[str, int]:
    """Counts of sampled, labeled, skipped and pending predictions."""
    return _progress(queue)


@router.post(
    "",
    dependencies=[WriteAccess],
    response_model=ReviewOut,
    status_code=status.HTTP_201_CREATED,
)
def post_review(review: ReviewIn, request: Request, queue: QueueDep) -> dict[str, Any]:
    """Record a verdict on a sampled prediction. Reviewing one again later supersedes the
    earlier verdict (the history is kept). Unknown ids get 404; predictions that were not
    sampled for review, and labels the model's task refuses (not a finite number for a
    regressor, not a known class for a classifier), get 422 naming ``value``."""
    review_id = queue.record(
        review.prediction_id, reviewer=review.reviewer, status=review.status, value=review.value
    )
    value = None if review.value is None else queue.rules.check(review.value, "value")
    leases: ReviewLeases = request.app.state.review_leases
    leases.release([review.prediction_id])
    return {
        "id": review_id,
        "prediction_id": review.prediction_id,
        "status": review.status,
        "value": value,
        "progress": _progress(queue),
    }


@router.get("/{prediction_id}", dependencies=[ReadAccess], response_model=list[ReviewVersionOut])
def get_reviews(prediction_id: str, queue: QueueDep) -> list[dict[str, Any]]:
    """Every review of one prediction, oldest first (404 for an unknown id)."""
    queue.item(prediction_id)
    history = review_history(queue.engine, prediction_id)
    return [
        {str(k): (None if v is None or v != v else v) for k, v in row.items()}
        for row in history.astype(object).to_dict(orient="records")
    ]
