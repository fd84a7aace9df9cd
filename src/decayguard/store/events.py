"""Metric points, alerts, deployments and the audit log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.store.schema import audit_events, metric_points


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One monitored value of one window, with its interval and decision."""

    model_name: str
    window_start: datetime
    window_end: datetime
    strategy: str
    metric: str
    value: float | None
    lower: float | None = None
    upper: float | None = None
    n: int | None = None
    feature: str | None = None
    model_version: str | None = None
    coverage: float | None = None
    provisional: bool = False
    flagged: bool = False
    reason: str | None = None


def write_metric_points(engine: Engine, points: Iterable[MetricPoint]) -> int:
    now = datetime.now(UTC)
    rows = [{**asdict(p), "created_at": now} for p in points]
    if rows:
        with engine.begin() as conn:
            conn.execute(metric_points.insert(), rows)
    return len(rows)


def read_metric_points(
    engine: Engine,
    model_name: str,
    *,
    metric: str | None = None,
    strategy: str | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    query = sa.select(metric_points).where(metric_points.c.model_name == model_name)
    if metric is not None:
        query = query.where(metric_points.c.metric == metric)
    if strategy is not None:
        query = query.where(metric_points.c.strategy == strategy)
    if since is not None:
        query = query.where(metric_points.c.window_end >= since)
    query = query.order_by(metric_points.c.window_end, metric_points.c.id)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))


def audit(
    engine: Engine,
    action: str,
    *,
    actor: str = "decayguard",
    model_name: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one event to the audit log."""
    with engine.begin() as conn:
        conn.execute(
            audit_events.insert(),
            {
                "ts": datetime.now(UTC),
                "actor": actor,
                "action": action,
                "model_name": model_name,
                "details": dict(details) if details else None,
            },
        )


def read_audit(
    engine: Engine,
    model_name: str | None = None,
    *,
    action: str | None = None,
    last: int | None = None,
) -> list[dict[str, Any]]:
    """Audit events, oldest first (``last``: only the latest ``last`` of them)."""
    query = sa.select(audit_events)
    if model_name is not None:
        query = query.where(audit_events.c.model_name == model_name)
    if action is not None:
        query = query.where(audit_events.c.action == action)
    if last is not None:
        query = query.order_by(audit_events.c.id.desc()).limit(last)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return sorted(rows, key=lambda r: int(r["id"]))
