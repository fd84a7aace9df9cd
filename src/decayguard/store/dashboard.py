"""Read side of the dashboard and the report: bounded, aggregated queries.

Every query here takes a time range (``since`` inclusive, ``until`` exclusive) and returns at
most a known number of rows: time series come back already binned by the database (one row
per series and time bin, ``bin_seconds`` wide, counted from ``since``), so 90 days of hourly
points for 30 features cost a few thousand rows, not half a million. Lists of events (flagged
points, incidents, transitions, gate reports) take a ``limit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from decayguard.store.schema import (
    alerts,
    as_utc,
    gate_reports,
    metric_points,
    predictions,
    release_transitions,
    reviews,
)

__all__ = [
    "SERIES_COLUMNS",
    "alerts_between",
    "decision_points",
    "feature_bins",
    "gate_reports_between",
    "metric_extent",
    "model_names",
    "review_bins",
    "series_bins",
    "stages_before",
    "transitions_between",
]

SERIES_COLUMNS = (
    "strategy",
    "metric",
    "feature",
    "model_version",
    "bin",
    "window_end",
    "value",
    "lower",
    "upper",
    "n",
    "coverage",
    "flagged",
    "provisional",
    "points",
)
"""The columns of :func:`series_bins`: per series and bin, the mean value, the widest interval
(lowest lower, highest upper), the largest n, the mean coverage, whether any point of the bin
was flagged or provisional, and how many points the bin holds."""


def _epoch(conn: Connection, column: Any) -> sa.ColumnElement[float]:
    """Seconds since 1970 of a stored timestamp, on SQLite (UTC text) and PostgreSQL."""
    if conn.dialect.name == "sqlite":
        # Whole seconds: julianday()'s float puts 01:00:00 at 00:59:59.99999 (the wrong bin).
        return sa.cast(sa.func.strftime("%s", column), sa.Float)
    return sa.cast(sa.extract("epoch", column), sa.Float)


def _bin(conn: Connection, column: Any, since: datetime, bin_seconds: float) -> Any:
    # Constants inline, not bound: PostgreSQL matches the GROUP BY expression to the selected
    # one only when they are textually the same, and two bind parameters are not.
    origin: sa.ColumnElement[float] = sa.literal_column(repr(float(as_utc(since).timestamp())))
    width: sa.ColumnElement[float] = sa.literal_column(repr(float(bin_seconds)))
    offset = (_epoch(conn, column) - origin) / width
    if conn.dialect.name == "sqlite":
        return sa.cast(offset, sa.Integer)  # truncation is the floor here: offset >= 0
    return sa.cast(sa.func.floor(offset), sa.Integer)


def _in_range(column: Any, since: datetime, until: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(column >= as_utc(since), column < as_utc(until))


def model_names(engine: Engine) -> list[str]:
    """Every model with metric points, alphabetically."""
    query = sa.select(metric_points.c.model_name).distinct().order_by(metric_points.c.model_name)
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(query)]


def metric_extent(engine: Engine, model_name: str) -> tuple[datetime, datetime] | None:
    """The earliest and the latest window end of the model's points."""
    query = sa.select(
        sa.func.min(metric_points.c.window_end), sa.func.max(metric_points.c.window_end)
    ).where(metric_points.c.model_name == model_name)
    with engine.connect() as conn:
        first, last = conn.execute(query).one()
    if first is None or last is None:
        return None
    return as_utc(_as_datetime(first)), as_utc(_as_datetime(last))


def _as_datetime(value: Any) -> datetime:
    # min()/max() of a SQLite text column come back as text, not through the column type.
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def series_bins(
    engine: Engine,
    model_name: str,
    since: datetime,
    until: datetime,
    bin_seconds: float,
    *,
    metrics: Sequence[str] | None = None,
    per_feature: bool = False,
) -> pd.DataFrame:
    """Metric points whose window ends in ``[since, until)``, one row per (strategy, metric,
    feature, model version, time bin) with :data:`SERIES_COLUMNS`.

    ``metrics``: only these metric names (the index on model, metric and window end serves
    them); ``per_feature``: points with a feature (drift, data quality) instead of the
    model-level ones.
    """
    mp = metric_points.c
    with engine.connect() as conn:
        bin_ = _bin(conn, mp.window_end, since, bin_seconds).label("bin")
        query = (
            sa.select(
                mp.strategy,
                mp.metric,
                mp.feature,
                mp.model_version,
                bin_,
                sa.func.max(mp.window_end).label("window_end"),
                sa.func.avg(mp.value).label("value"),
                sa.func.min(mp.lower).label("lower"),
                sa.func.max(mp.upper).label("upper"),
                sa.func.max(mp.n).label("n"),
                sa.func.avg(mp.coverage).label("coverage"),
                sa.func.max(sa.cast(mp.flagged, sa.Integer)).label("flagged"),
                sa.func.max(sa.cast(mp.provisional, sa.Integer)).label("provisional"),
                sa.func.count().label("points"),
            )
            .where(mp.model_name == model_name, _in_range(mp.window_end, since, until))
            .where(mp.feature.is_not(None) if per_feature else mp.feature.is_(None))
            .group_by(mp.strategy, mp.metric, mp.feature, mp.model_version, bin_)
            .order_by(mp.strategy, mp.metric, mp.feature, mp.model_version, bin_)
        )
        if metrics is not None:
            query = query.where(mp.metric.in_(list(metrics)))
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(SERIES_COLUMNS))
    frame["window_end"] = pd.to_datetime(frame["window_end"], utc=True, format="ISO8601")
    frame["flagged"] = frame["flagged"].astype(bool)
    frame["provisional"] = frame["provisional"].astype(bool)
    return frame


def feature_bins(
    engine: Engine,
    model_name: str,
    since: datetime,
    until: datetime,
    bin_seconds: float,
    *,
    metrics: Sequence[str],
) -> pd.DataFrame:
    """Per-feature points of ``metrics`` whose window ends in ``[since, until)``, one row per
    (metric, feature, time bin): the mean value and whether any point was flagged (columns
    ``metric, feature, bin, value, flagged``). The heatmap's query: the fewest columns, as it
    reads a point per feature, metric and window (130,000 for 90 days of hourly windows of 30
    features and two metrics)."""
    mp = metric_points.c
    with engine.connect() as conn:
        bin_ = _bin(conn, mp.window_end, since, bin_seconds).label("bin")
        query = (
            sa.select(
                mp.metric,
                mp.feature,
                bin_,
                sa.func.avg(mp.value).label("value"),
                sa.func.max(sa.cast(mp.flagged, sa.Integer)).label("flagged"),
            )
            .where(mp.model_name == model_name, mp.metric.in_(list(metrics)))
            .where(_in_range(mp.window_end, since, until), mp.feature.is_not(None))
            .group_by(mp.metric, mp.feature, bin_)
        )
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["metric", "feature", "bin", "value", "flagged"])
    frame["flagged"] = frame["flagged"].astype(bool)
    return frame


def decision_points(
    engine: Engine,
    model_name: str,
    since: datetime,
    until: datetime,
    *,
    limit: int,
    flagged_only: bool = False,
    metric_prefix: str | None = None,
) -> pd.DataFrame:
    """Points carrying a decision (a ``reason``), newest first, at most ``limit``:
    ``metric_prefix="decay."`` gives every decay decision, ``flagged_only`` only the raised
    ones (drift flags, decays)."""
    mp = metric_points.c
    query = (
        sa.select(
            mp.window_start,
            mp.window_end,
            mp.strategy,
            mp.metric,
            mp.feature,
            mp.model_version,
            mp.value,
            mp.lower,
            mp.upper,
            mp.n,
            mp.flagged,
            mp.reason,
        )
        .where(mp.model_name == model_name, _in_range(mp.window_end, since, until))
        .where(mp.reason.is_not(None))
        .order_by(mp.window_end.desc(), mp.id.desc())
        .limit(limit)
    )
    if flagged_only:
        query = query.where(mp.flagged.is_(True))
    if metric_prefix is not None:
        query = query.where(mp.metric.startswith(metric_prefix, autoescape=True))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))


def alerts_between(
    engine: Engine, model_name: str, since: datetime, until: datetime, *, limit: int
) -> list[dict[str, Any]]:
    """Incidents open at some time in ``[since, until)``, oldest first (at most ``limit``,
    the latest ones)."""
    a = alerts.c
    query = (
        sa.select(alerts)
        .where(a.model_name == model_name, a.opened_at < as_utc(until))
        .where(sa.or_(a.resolved_at.is_(None), a.resolved_at >= as_utc(since)))
        .order_by(a.opened_at.desc(), a.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return rows[::-1]


def transitions_between(
    engine: Engine, model_name: str, since: datetime, until: datetime, *, limit: int
) -> list[dict[str, Any]]:
    """Release transitions made in ``[since, until)``, oldest first (at most ``limit``)."""
    t = release_transitions.c
    query = (
        sa.select(release_transitions)
        .where(t.model_name == model_name, _in_range(t.created_at, since, until))
        .order_by(t.created_at.desc(), t.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return rows[::-1]


def stages_before(
    engine: Engine, model_name: str, since: datetime, *, limit: int
) -> list[dict[str, Any]]:
    """Each version's latest transition made before ``since``: the stage it was in when the
    range began (at most ``limit`` versions, the latest ones), oldest first."""
    t = release_transitions.c
    newest = (
        sa.select(sa.func.max(t.id).label("id"))
        .where(t.model_name == model_name, t.created_at < as_utc(since))
        .group_by(t.version)
        .subquery("newest")
    )
    query = (
        sa.select(release_transitions)
        .join(newest, newest.c.id == t.id)
        .order_by(t.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return rows[::-1]


def gate_reports_between(
    engine: Engine, model_name: str, since: datetime, until: datetime, *, limit: int
) -> list[dict[str, Any]]:
    """Gate decisions made in ``[since, until)``, oldest first (at most ``limit``)."""
    g = gate_reports.c
    query = (
        sa.select(gate_reports)
        .where(g.model_name == model_name, _in_range(g.created_at, since, until))
        .order_by(g.created_at.desc(), g.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return rows[::-1]


def review_bins(
    engine: Engine, model_name: str, since: datetime, until: datetime, bin_seconds: float
) -> pd.DataFrame:
    """Review progress over time: per time bin of prediction time, the predictions sampled
    for review and how many of them have a latest review that labels or skips them
    (columns ``bin, sampled, labeled, skipped``)."""
    p = predictions.c
    newest = (
        sa.select(sa.func.max(reviews.c.id).label("id"))
        .where(reviews.c.model_name == model_name)
        .group_by(reviews.c.prediction_id)
        .subquery("newest")
    )
    latest = (
        sa.select(reviews.c.prediction_id, reviews.c.status)
        .join(newest, newest.c.id == reviews.c.id)
        .subquery("latest")
    )
    with engine.connect() as conn:
        bin_ = _bin(conn, p.ts, since, bin_seconds).label("bin")
        query = (
            sa.select(
                bin_,
                sa.func.count().label("sampled"),
                sa.func.sum(sa.case((latest.c.status == "labeled", 1), else_=0)).label("labeled"),
                sa.func.sum(sa.case((latest.c.status == "skipped", 1), else_=0)).label("skipped"),
            )
            .select_from(predictions.outerjoin(latest, latest.c.prediction_id == p.id))
            .where(p.model_name == model_name, p.review_sampled.is_(True))
            .where(_in_range(p.ts, since, until))
            .group_by(bin_)
            .order_by(bin_)
        )
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["bin", "sampled", "labeled", "skipped"])
    return frame.fillna(0).astype(int)
