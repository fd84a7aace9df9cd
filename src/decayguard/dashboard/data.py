"""What the dashboard and the report show, as frames and dicts read from the store.

One :func:`load_dashboard` call reads everything a page needs for one model and one time
range, aggregated by the database into at most ``max_bins`` time bins (:func:`bin_width`), so
the page costs the same for a week of hourly points as for a year of them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from decayguard.config import DecayguardConfig
from decayguard.errors import InputValidationError
from decayguard.store.dashboard import (
    alerts_between,
    decision_points,
    feature_bins,
    gate_reports_between,
    metric_extent,
    review_bins,
    series_bins,
    stages_before,
    transitions_between,
)
from decayguard.store.reviews import review_progress
from decayguard.store.schema import as_utc

__all__ = [
    "DEFAULT_SPAN",
    "MAX_BINS",
    "MAX_SPAN",
    "DashboardData",
    "DriftMatrix",
    "TimeRange",
    "bin_width",
    "drift_matrix",
    "load_dashboard",
    "resolve_range",
]

MAX_BINS = 500
"""Time columns of a chart at most: the heatmap's width, a series' number of points."""
REVIEW_BINS = 60
"""Bars of the review chart at most: counts per bar stay readable."""
MAX_SPAN = timedelta(days=400)
"""The longest range one request may ask for."""
DEFAULT_SPAN = timedelta(days=90)
"""The range shown when none is asked for: the last 90 days of the model's points."""
DRIFT_VALUE_METRIC = "drift.jensen_shannon"
"""The heatmap's colour: the Jensen-Shannon distance (base 2, in [0, 1]), the one drift
effect every feature has, numeric or categorical."""
PREDICTION_DRIFT_METRIC = "prediction_drift.jensen_shannon"
DRIFT_DECISION_METRICS = ("drift.ks", "drift.jensen_shannon")
"""Whose flag marks a cell: the drift rule's effect method, ``ks`` for a numeric feature
(one that has ``drift.ks`` points), ``jensen_shannon`` for a categorical one."""
PERFORMANCE_PREFIXES = {"proxy": "estimated.", "review": "reviewed.", "realized": "realized."}
"""Where each strategy's performance figures are: label-free estimates, human reviews,
ground truth."""
DECAY_PREFIX = "decay."
EVENT_LIMIT = 1000
"""Incidents, transitions and gate reports per request at most."""
DECISION_LIMIT = 5000
"""Decision rows (decay decisions, drift flags) per request at most."""
_STEPS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


@dataclass(frozen=True)
class TimeRange:
    """``[since, until)`` in UTC."""

    since: datetime
    until: datetime

    @property
    def span(self) -> timedelta:
        return self.until - self.since


def resolve_range(
    engine: Engine,
    model_name: str,
    since: datetime | None,
    until: datetime | None,
    *,
    now: datetime | None = None,
) -> TimeRange:
    """The asked range, each missing end filled in: ``until`` defaults to just after the
    model's latest point (or ``now``), ``since`` to :data:`DEFAULT_SPAN` before ``until`` but
    not before the first point. :class:`InputValidationError` naming ``since`` or ``until``
    when the range is empty or longer than :data:`MAX_SPAN`."""
    extent = metric_extent(engine, model_name)
    if until is None:
        until = (extent[1] + timedelta(seconds=1)) if extent else as_utc(now or datetime.now(UTC))
    until = as_utc(until)
    if since is None:
        since = until - DEFAULT_SPAN
        if extent is not None and extent[0] > since and extent[0] < until:
            since = extent[0]
    since = as_utc(since)
    if until <= since:
        raise InputValidationError("until", f"must be after since ({since.isoformat()})")
    if until - since > MAX_SPAN:
        raise InputValidationError(
            "since", f"the range may span at most {MAX_SPAN.days} days, not {(until - since).days}"
        )
    return TimeRange(since, until)


def bin_width(span: timedelta, max_bins: int = MAX_BINS) -> int:
    """The narrowest round bin (a minute, 5 or 15 minutes, an hour, ..., a week; whole weeks
    beyond) that cuts ``span`` into at most ``max_bins`` bins, in seconds.

        >>> bin_width(timedelta(days=90))  # 2,160 hours -> 360 bins of 6 hours
        21600
        >>> bin_width(timedelta(days=7))
        3600
    """
    if max_bins < 1:
        raise InputValidationError("max_bins", "must be at least 1")
    needed = span.total_seconds() / max_bins
    for step in _STEPS:
        if step >= needed:
            return step
    return int(math.ceil(needed / _STEPS[-1]) * _STEPS[-1])


@dataclass(frozen=True)
class DriftMatrix:
    """Drift per feature over time: ``values[i][j]`` is feature ``i``'s mean drift effect in
    time bin ``j`` (``None``: no point), ``flagged[i][j]`` whether its drift rule flagged it."""

    features: list[str]
    times: list[datetime]
    values: list[list[float | None]]
    flagged: list[list[bool]]

    @property
    def flagged_cells(self) -> int:
        return sum(sum(row) for row in self.flagged)


def drift_matrix(
    frame: pd.DataFrame, time_range: TimeRange, bin_seconds: int, *, prediction_rows: bool = True
) -> DriftMatrix:
    """Pivot :func:`~decayguard.store.dashboard.series_bins` rows of drift metrics into a
    features x time-bins matrix (every bin of the range is a column, empty or not). The
    prediction outputs' own drift (``prediction_drift.*``) comes first, as ``prediction:
    <output>`` rows."""
    n_bins = max(1, math.ceil(time_range.span.total_seconds() / bin_seconds))
    times = [time_range.since + timedelta(seconds=bin_seconds * (j + 0.5)) for j in range(n_bins)]
    if frame.empty:
        return DriftMatrix([], times, [], [])
    frame = frame.assign(row=frame["feature"].astype(str))
    is_prediction = frame["metric"].str.startswith("prediction_drift.")
    frame.loc[is_prediction, "row"] = "prediction: " + frame.loc[is_prediction, "feature"]
    numeric = set(frame.loc[frame["metric"].isin(["drift.ks", "prediction_drift.ks"]), "row"])
    values: dict[str, list[float | None]] = {}
    flags: dict[str, list[bool]] = {}
    records: list[tuple[Any, Any, Any, Any, Any]] = list(
        zip(
            frame["row"],
            frame["bin"],
            frame["metric"],
            frame["value"],
            frame["flagged"],
            strict=True,
        )
    )
    for row_name, bin_number, metric, value, flagged in records:
        name = str(row_name)
        b = int(bin_number)
        if not 0 <= b < n_bins:
            continue
        values.setdefault(name, [None] * n_bins)
        flags.setdefault(name, [False] * n_bins)
        method = str(metric).split(".", 1)[1]
        if method == "jensen_shannon" and value is not None and value == value:
            values[name][b] = float(value)
        decides = method == ("ks" if name in numeric else "jensen_shannon")
        if decides and bool(flagged):
            flags[name][b] = True
    for row_values in values.values():
        _hold(row_values)
    ordered = sorted(values, key=lambda n: (not n.startswith("prediction: "), n))
    return DriftMatrix(ordered, times, [values[n] for n in ordered], [flags[n] for n in ordered])


def _hold(row: list[float | None]) -> None:
    """Carry each value forward over the empty bins up to the next point, when points come
    less often than bins (a monitor every 12 hours drawn in 2-hour bins): at most the
    row's typical spacing, so a real gap in monitoring stays visible."""
    filled = [j for j, v in enumerate(row) if v is not None]
    if len(filled) < 2:
        return
    gaps = sorted(b - a for a, b in itertools.pairwise(filled))
    typical = gaps[len(gaps) // 2]
    for a, b in itertools.pairwise(filled):
        if b - a <= typical:
            for j in range(a + 1, b):
                row[j] = row[a]


@dataclass
class DashboardData:
    """Everything shown for one model over one range (see ``docs/dashboard.md``)."""

    model_name: str
    time_range: TimeRange
    bin_seconds: int
    thresholds: dict[str, float]
    """Decay thresholds in force (``cfg.performance_thresholds``)."""
    lower_is_better: frozenset[str]
    label_maturity: float
    series: pd.DataFrame
    """Model-level points binned (:data:`~decayguard.store.dashboard.SERIES_COLUMNS`)."""
    drift: DriftMatrix
    reviews: pd.DataFrame
    """Per review bin: predictions sampled for review, labeled, skipped."""
    review_bin_seconds: int
    """Reviews are counted in wider bins (about :data:`REVIEW_BINS` over the range)."""
    review_totals: dict[str, int]
    incidents: list[dict[str, Any]]
    transitions: list[dict[str, Any]]
    """Release transitions made in the range, oldest first."""
    prior_stages: list[dict[str, Any]]
    """Each version's last transition before the range: its stage when the range began."""
    gate_reports: list[dict[str, Any]]
    decisions: pd.DataFrame
    """Decay decisions (every one) and raised drift flags, newest first."""
    truncated: dict[str, bool] = field(default_factory=dict)
    """Which lists hit their limit (older rows left out)."""

    def bin_time(self, bins: pd.Series, width: int | None = None) -> pd.Series:
        """The middle of each bin number's time span (bins ``width`` seconds wide, by
        default the charts' bin)."""
        seconds = width or self.bin_seconds
        offset = pd.to_timedelta((bins.astype(float) + 0.5) * seconds, unit="s")
        return pd.Timestamp(self.time_range.since) + offset

    def performance_metrics(self) -> list[str]:
        """The performance figures any strategy has in range (``accuracy``, ``f1``...),
        thresholded ones first, in a stable order."""
        names: set[str] = set()
        for prefix in PERFORMANCE_PREFIXES.values():
            metrics = self.series["metric"].astype(str)
            names |= {m[len(prefix) :] for m in metrics if m.startswith(prefix)}
        return sorted(names, key=lambda m: (m not in self.thresholds, m))


_LOSSES = frozenset({"log_loss", "mae", "rmse", "mape"})


def load_dashboard(
    engine: Engine,
    cfg: DecayguardConfig,
    time_range: TimeRange,
    *,
    model_name: str | None = None,
    max_bins: int = MAX_BINS,
    event_limit: int = EVENT_LIMIT,
    decision_limit: int = DECISION_LIMIT,
) -> DashboardData:
    """Read the dashboard's data for ``model_name`` (default: the project's model)."""
    name = model_name or cfg.model.name
    since, until = time_range.since, time_range.until
    width = bin_width(time_range.span, max_bins)
    review_width = max(width, bin_width(time_range.span, REVIEW_BINS))
    series = series_bins(engine, name, since, until, width)
    drift_rows = feature_bins(
        engine,
        name,
        since,
        until,
        width,
        metrics=[*DRIFT_DECISION_METRICS, PREDICTION_DRIFT_METRIC, "prediction_drift.ks"],
    )
    progress = review_progress(engine, name)
    decays = decision_points(
        engine, name, since, until, limit=decision_limit, metric_prefix=DECAY_PREFIX
    )
    flags = decision_points(engine, name, since, until, limit=decision_limit, flagged_only=True)
    flags = flags[~flags["metric"].astype(str).str.startswith(DECAY_PREFIX)]
    decisions = pd.DataFrame(
        decays.to_dict("records") + flags.to_dict("records"), columns=decays.columns
    )
    if len(decisions):
        decisions = decisions.sort_values("window_end", ascending=False, kind="stable")
    incidents = alerts_between(engine, name, since, until, limit=event_limit)
    transitions = transitions_between(engine, name, since, until, limit=event_limit)
    gates = gate_reports_between(engine, name, since, until, limit=event_limit)
    return DashboardData(
        model_name=name,
        time_range=time_range,
        bin_seconds=width,
        thresholds=cfg.performance_thresholds,
        lower_is_better=_LOSSES,
        label_maturity=float(cfg.feedback.label_maturity),
        series=series,
        drift=drift_matrix(drift_rows, time_range, width),
        reviews=review_bins(engine, name, since, until, review_width),
        review_bin_seconds=review_width,
        review_totals={
            "sampled": progress.sampled,
            "labeled": progress.labeled,
            "skipped": progress.skipped,
            "pending": progress.pending,
        },
        incidents=incidents,
        transitions=transitions,
        prior_stages=stages_before(engine, name, since, limit=event_limit),
        gate_reports=gates,
        decisions=decisions.reset_index(drop=True),
        truncated={
            "decay_decisions": len(decays) >= decision_limit,
            "drift_flags": len(flags) >= decision_limit,
            "incidents": len(incidents) >= event_limit,
            "transitions": len(transitions) >= event_limit,
            "gate_reports": len(gates) >= event_limit,
        },
    )
