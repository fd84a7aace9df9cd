"""A simulated human reviewer who answers review requests, sometimes wrongly, after a while."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np


@dataclass(frozen=True, slots=True)
class ReviewAnswer:
    """A reviewer's answer to one review request."""

    prediction_id: str
    label: str
    answered_at: datetime
    is_error: bool
    """Whether the reviewer got it wrong (known only to the simulator, for scoring)."""


@dataclass(frozen=True, slots=True)
class SimulatedReviewer:
    """Answers review requests with the true label, except for an ``error_rate`` share of
    them, where it picks one of the other ``classes``; it answers after an exponentially
    distributed delay with mean ``mean_delay``.

    Each answer depends only on ``(seed, prediction_id)``: the same request always gets
    the same answer, whatever the order in which requests are made.

    >>> from datetime import UTC
    >>> reviewer = SimulatedReviewer(error_rate=0.0, seed=1)
    >>> reviewer.review("p-1", "1", datetime(2026, 10, 20, tzinfo=UTC)).label
    '1'
    """

    error_rate: float = 0.03
    seed: int = 0
    mean_delay: timedelta = timedelta(hours=4)
    classes: tuple[str, ...] = ("0", "1")

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be in [0, 1]")
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ValueError("classes must hold at least two distinct labels")
        if self.mean_delay < timedelta(0):
            raise ValueError("mean_delay must not be negative")

    def review(self, prediction_id: str, true_label: str, requested_at: datetime) -> ReviewAnswer:
        """The reviewer's answer to a request made at ``requested_at``."""
        if true_label not in self.classes:
            raise ValueError(f"true label {true_label!r} is not one of {self.classes}")
        rng = np.random.default_rng([self.seed, zlib.crc32(prediction_id.encode())])
        wrong = bool(rng.random() < self.error_rate)
        label = true_label
        if wrong:
            others = [c for c in self.classes if c != true_label]
            label = others[int(rng.integers(len(others)))]
        delay = self.mean_delay * float(rng.exponential(1.0))
        return ReviewAnswer(prediction_id, label, requested_at + delay, wrong)


@dataclass(frozen=True, slots=True)
class SimulatedValueReviewer:
    """Answers review requests for a number (a regression target) with the true value
    times ``1 + relative_noise * N(0, 1)``, written with two decimals, after an
    exponentially distributed delay with mean ``mean_delay``. ``is_error`` marks answers
    more than two noise standard deviations off.

    Like :class:`SimulatedReviewer`, each answer depends only on ``(seed, prediction_id)``.

    >>> from datetime import UTC
    >>> reviewer = SimulatedValueReviewer(relative_noise=0.0, seed=1)
    >>> reviewer.review("p-1", "1234.5", datetime(2026, 10, 20, tzinfo=UTC)).label
    '1234.50'
    """

    relative_noise: float = 0.02
    seed: int = 0
    mean_delay: timedelta = timedelta(hours=4)

    def __post_init__(self) -> None:
        if not 0.0 <= self.relative_noise < 1.0:
            raise ValueError("relative_noise must be in [0, 1)")
        if self.mean_delay < timedelta(0):
            raise ValueError("mean_delay must not be negative")

    def review(self, prediction_id: str, true_label: str, requested_at: datetime) -> ReviewAnswer:
        """The reviewer's answer to a request made at ``requested_at``."""
        try:
            value = float(true_label)
        except ValueError as exc:
            raise ValueError(f"true value {true_label!r} is not a number") from exc
        rng = np.random.default_rng([self.seed, zlib.crc32(prediction_id.encode())])
        z = float(rng.standard_normal())
        delay = self.mean_delay * float(rng.exponential(1.0))
        answer = value * (1.0 + self.relative_noise * z)
        return ReviewAnswer(prediction_id, f"{answer:.2f}", requested_at + delay, abs(z) > 2.0)
