"""The monitor's counting, replayed: how much evidence each window would have held.

A monitor run at time ``t`` with a window of ``w`` hours counts the evidence for predictions
made in ``[t - w, t)`` that had *arrived* by ``t`` (a prediction at once; a label when it was
received; a review when it was written). :class:`EvidenceCounts` answers that count for every
window and every hourly run of a history at once, from one two-dimensional cumulative sum;
:class:`WindowAdvisor` judges a window by the share of runs that reach a minimum and proposes
the shortest one that does.

    >>> import numpy as np
    >>> hour = np.timedelta64(1, "h")
    >>> start = np.datetime64("2024-01-01T00:00", "ns")
    >>> ts = start + np.arange(48) * hour            # one prediction an hour, for two days
    >>> counts = EvidenceCounts.from_times(ts, ts + 5 * hour, start, 48)   # labelled 5 h later
    >>> counts.count(window=24, run=48)               # a run at the end, 24-hour window
    19
    >>> counts.count(window=24, run=48, arrived=False)
    24

"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "REQUIRED_SHARE",
    "EvidenceCounts",
    "EvidenceStream",
    "ReplayGrid",
    "WindowAdvisor",
    "nice_hours",
    "window_ladder",
]

REQUIRED_SHARE = 0.95
"""A window is long enough when at least this share of the replayed hourly runs reach the
strategy's minimum."""
_HOUR = np.timedelta64(3600, "s")
_MAX_BINS = 1000  # the replay grid is bins x bins: at most ~8 MB per array


def window_ladder(up_to_hours: float) -> list[int]:
    """Window lengths worth proposing, in hours: within a day, whole days up to two weeks,
    then whole weeks; none longer than ``up_to_hours`` (but at least one).

    >>> window_ladder(30)
    [1, 2, 3, 4, 6, 8, 12, 18, 24]
    >>> window_ladder(700)[-4:]
    [312, 336, 504, 672]
    """
    ladder = [1, 2, 3, 4, 6, 8, 12, 18, 24, 36, *range(48, 337, 24)]
    ladder += range(504, max(int(up_to_hours), 504) + 1, 168)
    return [h for h in ladder if h <= up_to_hours] or ladder[:1]


def nice_hours(hours: float) -> int:
    """The smallest ladder value at or above ``hours``."""
    return next(h for h in window_ladder(hours + 168) if h >= hours)


@dataclass(frozen=True)
class EvidenceCounts:
    """How many pieces of evidence a monitor run would count, for any window and run time.

    Time is cut into ``bins`` equal bins ending at the check's ``now`` (run ``bins``); run
    ``j`` happens at the end of bin ``j - 1``. A piece of evidence belongs to the window of
    its prediction's time and counts once it has *arrived* (a label received, a review
    written; for a prediction, at once).
    """

    cumulative_: NDArray[np.float64]
    """``[i, j]``: evidence of predictions in bins ``< i`` that arrived before run ``j``."""
    total: int
    bin_hours: int = 1

    @classmethod
    def from_times(
        cls,
        predicted: NDArray[Any],
        arrived: NDArray[Any],
        start: np.datetime64,
        bins: int,
        bin_hours: int = 1,
    ) -> EvidenceCounts:
        width = bin_hours * _HOUR
        t = ((predicted - start) // width).astype(np.int64)
        a = ((np.maximum(arrived, predicted) - start) // width).astype(np.int64) + 1
        keep = (t >= 0) & (t < bins)
        t, a = t[keep], np.clip(a[keep], 0, bins + 1)
        grid = np.bincount(t * (bins + 2) + a, minlength=bins * (bins + 2))
        grid = grid.reshape(bins, bins + 2).astype(np.float64)
        # arrived before run j: arrival bin + 1 <= j
        by_run = np.cumsum(grid, axis=1)
        cumulative = np.zeros((bins + 1, bins + 2))
        cumulative[1:] = np.cumsum(by_run, axis=0)
        return cls(cumulative, int(keep.sum()), bin_hours)

    @property
    def bins(self) -> int:
        return int(self.cumulative_.shape[0] - 1)

    def window_bins(self, hours: float) -> int:
        return max(1, math.ceil(hours / self.bin_hours))

    def count(self, window: float, run: int, *, arrived: bool = True) -> int:
        """Evidence for predictions in the ``window`` hours before ``run`` (arrived by then)."""
        col = run if arrived else self.bins + 1
        lo = max(run - self.window_bins(window), 0)
        return int(self.cumulative_[run, col] - self.cumulative_[lo, col])

    def counts(self, window: float, runs: NDArray[np.int64]) -> NDArray[np.float64]:
        """:meth:`count` for many runs at once."""
        lo = np.maximum(runs - self.window_bins(window), 0)
        result: NDArray[np.float64] = self.cumulative_[runs, runs] - self.cumulative_[lo, runs]
        return result


@dataclass(frozen=True)
class EvidenceStream:
    """One strategy's evidence: when each piece's prediction was made, and when it arrived."""

    noun: str
    counts: EvidenceCounts
    delays_hours: NDArray[np.float64]
    per_day: float


class WindowAdvisor:
    """Judges one window against one minimum, and proposes a longer window if needed."""

    def __init__(self, first_run: int) -> None:
        self.first_run = first_run

    def share(self, counts: EvidenceCounts, hours: float, minimum: int) -> float | None:
        """Share of the replayed runs whose window lies within the history and reaches
        ``minimum`` (``None``: the history is shorter than the window)."""
        runs = np.arange(self.first_run + counts.window_bins(hours), counts.bins + 1)
        if not len(runs):
            return None
        return float(np.mean(counts.counts(hours, runs) >= minimum))

    def propose(self, stream: EvidenceStream, current: float, minimum: int) -> float | None:
        """The shortest window (hours) at which enough replayed runs reach ``minimum``."""
        counts = stream.counts
        tested = current
        for hours in window_ladder(counts.bins * counts.bin_hours):
            share = self.share(counts, hours, minimum) if hours > current else None
            if share is None:
                continue
            if share >= REQUIRED_SHARE:
                return float(hours)
            tested = hours
        if stream.per_day <= 0:
            return None
        # Longer than the history: extrapolate the arrival rate, with a Poisson margin.
        wanted = minimum + 2 * math.sqrt(minimum)
        delay = float(np.mean(stream.delays_hours)) if len(stream.delays_hours) else 0.0
        return float(nice_hours(max(delay + 24 * wanted / stream.per_day, tested + 1)))


@dataclass(frozen=True)
class ReplayGrid:
    """The replayed history: ``bins`` bins of ``bin_hours`` ending at ``now``."""

    now: datetime
    bins: int
    bin_hours: int

    @classmethod
    def covering(cls, now: datetime, hours: float) -> ReplayGrid:
        """Hourly bins over ``hours`` before ``now``, coarser past ``_MAX_BINS`` bins."""
        hours = max(1, math.ceil(hours))
        bin_hours = max(1, math.ceil(hours / _MAX_BINS))
        return cls(now, math.ceil(hours / bin_hours), bin_hours)

    @property
    def hours(self) -> int:
        return self.bins * self.bin_hours

    @property
    def start(self) -> datetime:
        return self.now - timedelta(hours=self.hours)

    def history(self, predicted: NDArray[Any]) -> tuple[int, float]:
        """The run at which the first prediction's bin ends, and the hours since it."""
        start = np.datetime64(self.start.replace(tzinfo=None), "ns")
        if not len(predicted):
            return self.bins, 0.0
        first = predicted.min()
        return int((first - start) // (self.bin_hours * _HOUR)), float(
            self.hours - (first - start) / _HOUR
        )

    def stream(
        self, noun: str, predicted: NDArray[Any], arrived: NDArray[Any], history_hours: float
    ) -> EvidenceStream:
        now = np.datetime64(self.now.replace(tzinfo=None), "ns")
        start = np.datetime64(self.start.replace(tzinfo=None), "ns")
        landed = arrived <= now
        predicted, arrived = predicted[landed], arrived[landed]
        counts = EvidenceCounts.from_times(predicted, arrived, start, self.bins, self.bin_hours)
        delays = np.maximum(((arrived - predicted) / _HOUR).astype(np.float64), 0.0)
        return EvidenceStream(noun, counts, delays, self._per_day(predicted, delays, history_hours))

    def _per_day(
        self, predicted: NDArray[Any], delays: NDArray[np.float64], history_hours: float
    ) -> float:
        """Evidence per day of predictions, over the part of the history old enough for
        most of it (90%) to have arrived: the rate a window settles at."""
        if not len(predicted) or history_hours <= 0:
            return 0.0
        late = float(np.quantile(delays, 0.9))
        matured_hours = history_hours - late
        if matured_hours < 24:
            return 24 * len(predicted) / history_hours
        now = np.datetime64(self.now.replace(tzinfo=None), "ns")
        cutoff = now - np.timedelta64(int(late * 3600), "s")
        return 24 * int(np.sum(predicted < cutoff)) / matured_hours
