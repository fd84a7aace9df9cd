"""Training-set assembly around a point-in-time feature join: label checks and the re-join.

Feast's file offline store silently loses label rows: rows sharing an entity key and a time
are collapsed into one (feast-dev/feast#6787), and a row whose every feature value is newer
than the label disappears instead of getting nulls. So decayguard sends Feast only the distinct
``(entity key, time)`` pairs and joins the answer back onto the labels: every label inside the
window yields exactly one row, with null features where nothing was known at its time.

:func:`point_in_time_join` is an independent pandas reference of the same join, used to check
Feast's answer and as the in-memory twin in unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from decayguard.errors import InputValidationError
from decayguard.features.lineage import TrainingSetLineage
from decayguard.features.windows import TIME_COLUMN, WEIGHT_COLUMN

#: Takes distinct ``(keys..., event_timestamp)`` rows, returns them with feature columns.
FeatureRetriever = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class PointInTimeSet:
    """A point-in-time-correct training frame and the lineage record that pins it."""

    frame: pd.DataFrame
    lineage: TrainingSetLineage


def validate_labels(
    labels: pd.DataFrame,
    *,
    keys: Sequence[str],
    time_column: str,
    feature_names: Sequence[str],
    integer_keys: Sequence[str] = (),
) -> pd.DataFrame:
    """Check and normalise a label frame: keys present and non-null, times parsed to UTC.

    Returns a copy whose time column is ``event_timestamp`` (``datetime64[ns, UTC]``; naive
    times are taken as UTC). Raises :class:`InputValidationError` naming the bad column.
    """
    if not isinstance(labels, pd.DataFrame):
        raise InputValidationError("labels", f"expected a pandas DataFrame, got {type(labels)}")
    for column in (*keys, time_column):
        if column not in labels.columns:
            raise InputValidationError(
                column, f"missing from the labels (columns: {', '.join(map(str, labels.columns))})"
            )
        if labels[column].isna().any():
            rows = labels.index[labels[column].isna()].tolist()[:5]
            raise InputValidationError(column, f"null in label row(s) {rows}")
    clashes = sorted(
        set(feature_names) & set(labels.columns) | ({WEIGHT_COLUMN} & set(labels.columns))
    )
    if clashes:
        raise InputValidationError(
            clashes[0], "the labels already have this column; the training set would overwrite it"
        )
    if time_column != TIME_COLUMN and TIME_COLUMN in labels.columns:
        raise InputValidationError(
            TIME_COLUMN, f"clashes with the time column {time_column!r}; rename one of them"
        )
    frame = labels.rename(columns={time_column: TIME_COLUMN}).reset_index(drop=True)
    try:
        frame[TIME_COLUMN] = pd.to_datetime(frame[TIME_COLUMN], utc=True).astype(
            "datetime64[ns, UTC]"
        )
    except (ValueError, TypeError) as exc:
        raise InputValidationError(time_column, f"not a timestamp: {exc}") from exc
    for key in integer_keys:
        frame[key] = _as_int64(frame[key], key)
    return frame


def _as_int64(series: pd.Series, name: str) -> pd.Series:
    try:
        numbers = pd.to_numeric(series, errors="raise")
    except (ValueError, TypeError) as exc:
        raise InputValidationError(name, f"entity keys must be integers: {exc}") from exc
    if not (numbers == numbers.round()).all():
        raise InputValidationError(name, "entity keys must be integers, got fractions")
    return numbers.astype("int64")


def attach_features(
    labels: pd.DataFrame,
    retrieve: FeatureRetriever,
    *,
    keys: Sequence[str],
    feature_names: Sequence[str],
) -> pd.DataFrame:
    """One row per label: the labels with the features known at each label's time."""
    join_on = [*keys, TIME_COLUMN]
    pairs = labels[join_on].drop_duplicates().reset_index(drop=True)
    answered = retrieve(pairs)
    missing = [name for name in (*join_on, *feature_names) if name not in answered.columns]
    if missing:
        raise InputValidationError(missing[0], "not returned by the feature retrieval")
    answered = answered[[*join_on, *feature_names]].drop_duplicates(subset=join_on, keep="last")
    answered[TIME_COLUMN] = answered[TIME_COLUMN].astype("datetime64[ns, UTC]")
    for key in keys:
        if answered[key].dtype != labels[key].dtype:
            answered[key] = answered[key].astype(labels[key].dtype)
    return labels.merge(answered, on=join_on, how="left", validate="many_to_one")


def point_in_time_join(
    pairs: pd.DataFrame,
    source: pd.DataFrame,
    *,
    keys: Sequence[str],
    feature_names: Sequence[str],
    ttl: timedelta | None = None,
    source_time: str = TIME_COLUMN,
    created_column: str | None = None,
) -> pd.DataFrame:
    """Reference point-in-time join: for each pair, the latest source row known at its time.

    A source row counts for a pair when it is dated at or before the pair's time, not more
    than ``ttl`` before it, and (with ``created_column``) was written at or before it; among
    those the latest by date wins (then the latest written). Pure pandas, independent of Feast.
    """
    left = pairs[[*keys, TIME_COLUMN]].copy()
    left[TIME_COLUMN] = _utc_ns(left[TIME_COLUMN])
    left["__order"] = range(len(left))
    written = [created_column] if created_column else []
    right = source[[*keys, source_time, *written, *feature_names]].rename(
        columns={source_time: "__t", **({created_column: "__c"} if created_column else {})}
    )
    right["__t"] = _utc_ns(right["__t"])
    if created_column:
        right["__c"] = _utc_ns(right["__c"])
    candidates = left.merge(right, on=list(keys), how="inner")
    known = candidates["__t"] <= candidates[TIME_COLUMN]
    if ttl:
        known &= candidates["__t"] >= candidates[TIME_COLUMN] - pd.Timedelta(ttl)
    if created_column:
        known &= candidates["__c"] <= candidates[TIME_COLUMN]
    order = ["__order", "__t", *(["__c"] if created_column else [])]
    best = candidates[known].sort_values(order).groupby("__order").tail(1)
    joined = left.merge(best[["__order", *feature_names]], on="__order", how="left")
    return joined.drop(columns="__order").reset_index(drop=True)


def _utc_ns(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
