"""The human-review queue of one model: what to review next, and recording verdicts.

The queue holds the predictions the serving runtime sampled for review (with their
inclusion probabilities) that nobody has labeled or skipped yet, oldest first. A
verdict is either a true label (checked like any label delivery: a finite number for a
regressor, one of the known classes for a classifier; stored as its normalised text)
or a skip. Reviewing again later is allowed: the latest review of a prediction counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from decayguard.errors import InputValidationError
from decayguard.feedback.label_rules import LabelRules, default_label_values
from decayguard.feedback.labels import storable_text
from decayguard.store import (
    ReviewProgress,
    ReviewRecord,
    get_prediction,
    pending_reviews,
    record_review,
    review_progress,
)
from decayguard.store.reviews import ReviewStatus
from decayguard.store.schema import reviews

__all__ = [
    "PredictionNotFound",
    "ReviewItem",
    "ReviewLeases",
    "ReviewQueue",
    "default_label_values",
]


class PredictionNotFound(LookupError):
    """The prediction id is not in the store for this model."""

    def __init__(self, prediction_id: str) -> None:
        super().__init__(f"unknown prediction id {prediction_id!r}")
        self.prediction_id = prediction_id


@dataclass(frozen=True)
class ReviewItem:
    """One prediction as a reviewer sees it: its inputs and the model's answer."""

    prediction_id: str
    ts: str
    model_name: str
    model_version: str
    prediction: str | None
    score: float | None
    inclusion_prob: float | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    @classmethod
    def from_prediction(cls, row: dict[str, Any]) -> ReviewItem:
        return cls(
            prediction_id=row["id"],
            ts=row["ts"].isoformat(),
            model_name=row["model_name"],
            model_version=row["model_version"],
            prediction=row["prediction"],
            score=row["score"],
            inclusion_prob=row["inclusion_prob"],
            inputs=dict(row["inputs"]),
            outputs=dict(row["outputs"]),
        )


class ReviewQueue:
    """The review queue of ``model_name``; ``rules`` check each verdict's label exactly as
    label deliveries are checked (:meth:`LabelRules.check`), and store its normalised text."""

    def __init__(self, engine: Engine, model_name: str, rules: LabelRules) -> None:
        self.engine = engine
        self.model_name = model_name
        self.rules = rules

    @property
    def label_values(self) -> list[str]:
        """The classes a reviewer chooses from (empty: the answer is typed)."""
        return list(self.rules.values)

    def next(self, *, limit: int = 1, exclude: tuple[str, ...] = ()) -> list[ReviewItem]:
        """The oldest ``limit`` predictions waiting for review (minus ``exclude``)."""
        for pid in exclude:
            storable_text(pid, "exclude", reviews.c.prediction_id)
        ids = pending_reviews(self.engine, self.model_name, limit=limit, exclude=exclude)
        items = []
        for pid in ids:
            row = get_prediction(self.engine, pid)
            if row is not None:
                items.append(ReviewItem.from_prediction(row))
        return items

    def progress(self) -> ReviewProgress:
        return review_progress(self.engine, self.model_name)

    def item(self, prediction_id: str) -> ReviewItem:
        storable_text(prediction_id, "prediction_id", reviews.c.prediction_id)
        row = get_prediction(self.engine, prediction_id)
        if row is None or row["model_name"] != self.model_name:
            raise PredictionNotFound(prediction_id)
        return ReviewItem.from_prediction(row)

    def record(
        self,
        prediction_id: str,
        *,
        reviewer: str,
        status: ReviewStatus,
        value: str | None = None,
    ) -> int:
        """Record a verdict; returns the review's id.

        Raises :class:`PredictionNotFound` for an unknown id, and
        :class:`InputValidationError` naming the field for a prediction that was not
        sampled for review, a label the rules refuse (not a number for a regressor, not a
        known class for a classifier), or a value on a skip.
        """
        storable_text(prediction_id, "prediction_id", reviews.c.prediction_id)
        storable_text(reviewer, "reviewer", reviews.c.reviewer)
        if value is not None:
            storable_text(value, "value", reviews.c.value)
        row = get_prediction(self.engine, prediction_id)
        if row is None or row["model_name"] != self.model_name:
            raise PredictionNotFound(prediction_id)
        if not row["review_sampled"]:
            raise InputValidationError(
                "prediction_id",
                f"prediction {prediction_id!r} was not sampled for review: reviewing it would "
                "bias the weighted estimates (send its label as ground truth instead)",
            )
        if status == "labeled":
            if value is None or value.strip() == "":
                raise InputValidationError("value", "a labeled review needs a value")
            value = self.rules.check(value, "value")
        elif value is not None:
            raise InputValidationError("value", "a skipped review has no value")
        review = ReviewRecord(
            prediction_id=prediction_id,
            model_name=self.model_name,
            reviewer=reviewer,
            status=status,
            value=value,
        )
        return record_review(self.engine, review)


class ReviewLeases:
    """Which queued prediction each reviewer is looking at, so that reviewers working at the
    same time are shown different ones.

    A lease lasts ``seconds`` (a reviewer who walks away frees their item) and ends when the
    verdict is recorded. Leases live in memory, in one API process: with several API
    workers, two reviewers may still meet the same prediction; the later verdict then
    supersedes the earlier one, which is kept in the history.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if seconds <= 0:
            raise ValueError(f"a review lease must last > 0 seconds, got {seconds}")
        self.seconds = seconds
        self.clock = clock
        self._held: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def claim(
        self, reviewer: str, pick: Callable[[tuple[str, ...]], list[ReviewItem]]
    ) -> list[ReviewItem]:
        """Items for ``reviewer``: ``pick`` gets the ids others hold and chooses; what it
        returns is leased to ``reviewer`` (atomically, against concurrent claims)."""
        with self._lock:
            now = self.clock()
            self._held = {
                pid: (who, until) for pid, (who, until) in self._held.items() if until > now
            }
            others = tuple(pid for pid, (who, _) in self._held.items() if who != reviewer)
            items = pick(others)
            for item in items:
                self._held[item.prediction_id] = (reviewer, now + self.seconds)
            return items

    def release(self, prediction_ids: Iterable[str]) -> None:
        with self._lock:
            for pid in prediction_ids:
                self._held.pop(pid, None)
