"""Data windows: which labels a training set learns from, and how much each one weighs.

Each window is a small strategy with one verb, :meth:`DataWindow.select`, picked from config by
:func:`window_from_config`::

    >>> import pandas as pd
    >>> labels = pd.DataFrame({"event_timestamp": pd.to_datetime(
    ...     ["2026-01-01", "2026-01-21", "2026-01-31"], utc=True)})
    >>> end = pd.Timestamp("2026-01-31", tz="UTC").to_pydatetime()
    >>> len(LastNDays(days=15).select(labels, end=end).labels)
    2
    >>> RecencyWeighted(half_life_days=10).select(labels, end=end).labels["sample_weight"].tolist()
    [0.125, 0.5, 1.0]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from decayguard.config import FeaturesConfig
from decayguard.errors import ConfigError

TIME_COLUMN = "event_timestamp"
WEIGHT_COLUMN = "sample_weight"


@dataclass(frozen=True)
class WindowSelection:
    """The labels a window admits, with the bounds it applied."""

    labels: pd.DataFrame
    start: datetime | None
    end: datetime


class DataWindow(ABC):
    """Chooses the labels (and their weights) a training set is built from."""

    kind: ClassVar[str]

    def select(self, labels: pd.DataFrame, *, end: datetime) -> WindowSelection:
        """Labels with ``start <= event_timestamp <= end`` (``end`` is the as-of time)."""
        start = self.start(end)
        times = labels[TIME_COLUMN]
        keep = times <= pd.Timestamp(end)
        if start is not None:
            keep &= times >= pd.Timestamp(start)
        chosen = self.weigh(labels.loc[keep].reset_index(drop=True), end=end)
        return WindowSelection(labels=chosen, start=start, end=end)

    @abstractmethod
    def start(self, end: datetime) -> datetime | None:
        """Earliest admitted label time for a training set as of ``end`` (``None``: any)."""

    def weigh(self, labels: pd.DataFrame, *, end: datetime) -> pd.DataFrame:
        """Hook for weighting windows; unweighted windows return the labels as they are."""
        return labels

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The window's kind and parameters, JSON-able, for the lineage record."""


class AllHistory(DataWindow):
    """Every label up to the as-of time."""

    kind = "all"

    def start(self, end: datetime) -> datetime | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}


class LastNDays(DataWindow):
    """Only labels of the last ``days`` days before the as-of time."""

    kind = "last_n_days"

    def __init__(self, days: float) -> None:
        if days <= 0:
            raise ValueError(f"days must be positive, got {days}")
        self.days = days

    def start(self, end: datetime) -> datetime | None:
        return end - timedelta(days=self.days)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "days": self.days}


class RecencyWeighted(DataWindow):
    """All labels (or the last ``days``), each weighted ``0.5 ** (age / half_life_days)``.

    The weight goes into a ``sample_weight`` column, which most estimators' ``fit`` accept.
    """

    kind = "recency_weighted"

    def __init__(self, half_life_days: float, days: float | None = None) -> None:
        if half_life_days <= 0:
            raise ValueError(f"half_life_days must be positive, got {half_life_days}")
        if days is not None and days <= 0:
            raise ValueError(f"days must be positive, got {days}")
        self.half_life_days = half_life_days
        self.days = days

    def start(self, end: datetime) -> datetime | None:
        return None if self.days is None else end - timedelta(days=self.days)

    def weigh(self, labels: pd.DataFrame, *, end: datetime) -> pd.DataFrame:
        age = (pd.Timestamp(end) - labels[TIME_COLUMN]).dt.total_seconds() / 86400.0
        weights = np.power(0.5, age.to_numpy(dtype="float64") / self.half_life_days)
        return labels.assign(**{WEIGHT_COLUMN: weights})

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "half_life_days": self.half_life_days, "days": self.days}


def window_from_config(features: FeaturesConfig) -> DataWindow:
    """The window named by ``features.training_window`` with its parameters."""
    days = features.training_window_days
    if features.training_window == "all":
        return AllHistory()
    if features.training_window == "last_n_days":
        if days is None:
            raise ConfigError(
                "features.training_window_days: required when features.training_window is "
                "'last_n_days'"
            )
        return LastNDays(days)
    return RecencyWeighted(features.half_life_days, days)


def window_from_description(description: dict[str, Any]) -> DataWindow:
    """Rebuild a window from :meth:`DataWindow.describe`'s output (from a lineage record)."""
    kinds: dict[str, type[DataWindow]] = {
        cls.kind: cls for cls in (AllHistory, LastNDays, RecencyWeighted)
    }
    params = dict(description)
    kind = params.pop("kind", None)
    if kind not in kinds:
        raise ValueError(f"unknown window kind {kind!r}; expected one of {sorted(kinds)}")
    return kinds[kind](**params)
