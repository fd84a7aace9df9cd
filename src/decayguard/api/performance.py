"""``/api/v1/performance``: realized performance from labels and from human reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from decayguard.api.auth import ReadAccess
from decayguard.api.deps import ConfigDep, EngineDep
from decayguard.errors import InputValidationError
from decayguard.feedback.estimates import reviewed_performance
from decayguard.feedback.realized import realized_performance
from decayguard.monitoring import MetricEstimate
from decayguard.watch.run import project_task

router = APIRouter(prefix="/api/v1/performance", tags=["performance"])

ARM = Query(
    max_length=20,
    pattern=r"^[A-Za-z0-9_.-]+$",
    description="One serving arm (champion, challenger, shadow); default: every arm that "
    "answered clients.",
)


class MetricOut(BaseModel):
    """A figure with its confidence interval and how the interval was computed."""

    name: str
    value: float | None
    lower: float | None
    upper: float | None
    n: int
    method: str
    confidence: float
    weighted: bool


class RealizedWindowOut(BaseModel):
    """Realized metrics of one window; provisional until ``coverage`` reaches ``maturity``."""

    start: datetime
    end: datetime
    predictions: int
    labeled: int
    coverage: float | None
    provisional: bool
    maturity: float
    metrics: dict[str, MetricOut]


class ReviewedOut(BaseModel):
    """Performance from the human-reviewed sample, weighted by 1 / inclusion probability."""

    start: datetime | None
    end: datetime | None
    metrics: dict[str, MetricOut]
    naive_accuracy: float | None
    labeled: int
    skipped: int
    without_probability: int


def _finite(value: float) -> float | None:
    return None if value != value or value in (float("inf"), float("-inf")) else value


def _metric(m: MetricEstimate) -> dict[str, Any]:
    d = m.to_dict()
    for key in ("value", "lower", "upper"):
        d[key] = _finite(float(d[key]))
    return d


def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


@router.get("/realized", dependencies=[ReadAccess], response_model=list[RealizedWindowOut])
def get_realized(
    config: ConfigDep,
    engine: EngineDep,
    start: Annotated[datetime, Query(description="Start (prediction time, inclusive).")],
    end: Annotated[datetime, Query(description="End of the range (exclusive).")],
    window_hours: Annotated[
        float | None, Query(gt=0, description="Split the range into windows of this many hours.")
    ] = None,
    arm: Annotated[str | None, ARM] = None,
) -> list[dict[str, Any]]:
    """Realized metrics from retrospective labels per window, each with its label
    coverage and whether it is still provisional (``feedback.label_maturity``)."""
    if _aware(end) <= _aware(start):  # type: ignore[operator]
        raise InputValidationError("end", "must be after start")
    windows = realized_performance(
        engine,
        config.model.name,
        start,
        end,
        window=timedelta(hours=window_hours) if window_hours else None,
        arm=arm,
        maturity=config.feedback.label_maturity,
        task=project_task(config, engine),
        confidence=config.monitoring.confidence,
    )
    return [
        {**w.to_dict(), "metrics": {k: _metric(m) for k, m in w.metrics.items()}} for w in windows
    ]


@router.get("/reviewed", dependencies=[ReadAccess], response_model=ReviewedOut)
def get_reviewed(
    config: ConfigDep,
    engine: EngineDep,
    start: Annotated[datetime | None, Query(description="Start (prediction time).")] = None,
    end: Annotated[datetime | None, Query(description="End (exclusive).")] = None,
    arm: Annotated[str | None, ARM] = None,
) -> dict[str, Any]:
    """The model's metrics (accuracy and friends for classifiers, MAE and friends for
    regressors) from human reviews with confidence intervals, unbiased under the
    review-sampling weights (Hajek)."""
    result = reviewed_performance(
        engine,
        config.model.name,
        _aware(start),
        _aware(end),
        arm=arm,
        task=project_task(config, engine),
        confidence=config.monitoring.confidence,
    )
    body = result.to_dict()
    body["metrics"] = {k: _metric(m) for k, m in result.metrics.items()}
    return {**body, "start": start, "end": end}
