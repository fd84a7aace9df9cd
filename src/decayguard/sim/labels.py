"""How long ground truth takes to arrive: a log-normal delay, and labels that never come."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class LabelDelay:
    """Label delay distribution: log-normal with the given ``median`` and ``sigma`` (the
    standard deviation of the delay's natural log); a ``never_share`` of labels never arrive.

    >>> delay = LabelDelay(median=timedelta(days=3), sigma=0.6, never_share=0.1)
    >>> delays = delay.draw(np.random.default_rng(0), 10_000)
    >>> round(float(delays.isna().mean()), 2)
    0.1
    >>> delay.quantile(0.5)
    Timedelta('3 days 00:00:00')
    """

    median: timedelta
    sigma: float
    never_share: float = 0.0

    def __post_init__(self) -> None:
        if self.median <= timedelta(0) or self.sigma < 0 or not 0 <= self.never_share < 1:
            raise ValueError("need median > 0, sigma >= 0 and 0 <= never_share < 1")

    def draw(self, rng: np.random.Generator, n: int) -> pd.TimedeltaIndex:
        """``n`` delays; ``NaT`` for labels that never arrive."""
        never = rng.random(n) < self.never_share
        seconds = self.median.total_seconds() * np.exp(self.sigma * rng.standard_normal(n))
        micros = np.round(seconds * 1e6).astype(np.int64)
        micros[never] = np.iinfo(np.int64).min  # numpy's NaT
        return pd.TimedeltaIndex(micros.astype("timedelta64[us]"))

    def quantile(self, q: float) -> pd.Timedelta:
        """Quantile ``q`` of the delay among labels that do arrive."""
        from scipy.stats import norm

        z = float(norm.ppf(q))
        return pd.Timedelta(seconds=self.median.total_seconds() * math.exp(self.sigma * z))
