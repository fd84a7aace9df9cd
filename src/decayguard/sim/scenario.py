"""The loan-default scenario: its parameters, its known change points, and how time shapes it.

A :class:`LoanScenario` only stores parameters; :meth:`LoanScenario.simulate`
draws everything (applicants, true labels, label delays) from
``numpy.random.default_rng(seed)`` and returns a
:class:`~decayguard.sim.simulation.Simulation`. The same parameters always give
the same frames.

Default story (28 simulated days from Monday 2026-10-05, UTC):

* days 0-7: history before deployment, used to train the first champion;
* days 7-14: stable live traffic (anything flagged here is a false alarm);
* day 14: **covariate drift** (a recession, ramping in over two days):
  incomes fall, utilization and unemployment rise. The ground truth
  ``P(default | features)`` does not change, so the champion stays accurate:
  a drift, not a decay;
* day 21: **concept drift** (a rate shock, over one day): the relation between
  debt ratio, utilization, employment and default changes; the champion's
  accuracy falls from about 0.89 to about 0.67 (tested for seed 7), and the
  loss amount and risk grade change with it (``task="regression"``,
  ``task="multiclass"``);
* throughout: **weekly seasonality** of volume (quiet weekends, busy
  mornings) and of utilization (a little higher at weekends) that a monitor
  should *not* report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from decayguard.sim.population import FloatArray
from decayguard.sim.targets import TARGETS

if TYPE_CHECKING:
    from decayguard.sim.simulation import Simulation

OnsetKind = Literal["covariate", "concept", "prediction", "seasonal"]
Strategy = Literal["proxy", "review", "realized"]
"""The three ways decayguard watches a model: proxy signals (drift, data quality and
label-free estimates), the human-reviewed sample, and retrospective labels."""
"""The monitor's three ways of seeing decay: proxy signals (feature and prediction
drift), label-free performance estimates, and realized performance from labels
and reviews."""

_DAY = timedelta(days=1)
# Relative request volume per weekday (Monday first) and per hour of the day (UTC).
_WEEKDAY_VOLUME = np.array([1.10, 1.10, 1.10, 1.10, 1.05, 0.75, 0.55])
_HOURLY_VOLUME = np.array(
    [1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 8, 8, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1], dtype=np.float64
)


@dataclass(frozen=True, slots=True)
class Onset:
    """A known change in the simulated world, for scoring what the monitor detected and when.

    ``start`` is when the change begins; it reaches full strength at
    ``start + ramp``. ``decay`` says whether the champion's true accuracy drops
    because of it; ``detectable_by`` lists the monitoring strategies that can
    see it in principle (a label-free estimate, for instance, is blind to a
    change of ``P(y | x)`` alone). Seasonal patterns are recorded as onsets of
    kind ``"seasonal"`` at the scenario's start with ``scored=False``: whatever
    fires on them is a false alarm.
    """

    kind: OnsetKind
    start: datetime
    description: str
    features: tuple[str, ...] = ()
    ramp: timedelta = timedelta(0)
    decay: bool = False
    detectable_by: tuple[Strategy, ...] = ()
    scored: bool = True

    def strength(self, times: pd.DatetimeIndex | pd.Series) -> FloatArray:
        """Strength of the change at each time: 0 before ``start``, 1 from ``start + ramp``."""
        t = pd.DatetimeIndex(times)
        elapsed = (t - pd.Timestamp(self.start)) / pd.Timedelta(self.ramp or _DAY)
        if not self.ramp:
            return np.asarray(elapsed >= 0, dtype=np.float64)
        return np.clip(np.asarray(elapsed, dtype=np.float64), 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class LoanScenario:
    """Parameters of a simulated loan-default deployment (see the module docstring).

    Day numbers count from ``start``; every onset is given in days so that a
    smaller run (``days=14``, ``requests_per_day=150``) keeps the same story.
    """

    seed: int = 7
    """Seed of every random draw; the same seed gives identical frames."""
    start: datetime = datetime(2026, 10, 5, tzinfo=UTC)
    """Simulated time of day 0 (a Monday, midnight UTC)."""
    days: int = 28
    """Simulated days in total, history included."""
    history_days: int = 7
    """Days before deployment whose rows form the training/reference frame."""
    requests_per_day: float = 400.0
    """Mean requests on an average day (weekends are quieter, weekdays busier)."""
    covariate_day: float | None = 14.0
    """Day the recession begins (``None``: no covariate drift)."""
    covariate_ramp_days: float = 2.0
    """Days the recession takes to reach full strength."""
    concept_day: float | None = 21.0
    """Day the rate shock changes the ground truth (``None``: no concept drift)."""
    concept_ramp_days: float = 1.0
    """Days the concept change takes to complete."""
    utilization_weekly_amplitude: float = 0.015
    """Weekly swing of mean utilization (highest at weekends): seasonality, not drift."""
    label_delay_median_days: float = 3.0
    """Median delay between an application and its ground-truth label (log-normal)."""
    label_delay_sigma: float = 0.6
    """Log-normal shape of the label delay (the standard deviation of its log)."""
    label_never_share: float = 0.10
    """Share of labels that never arrive."""
    request_id_prefix: str | None = None
    """Prefix of request/prediction ids (default ``"loan-s{seed}"``)."""
    first_applicant_id: int = 1_000_000
    """``applicant_id`` of the first simulated applicant; the others follow in order."""
    extra_onsets: Sequence[Onset] = field(default_factory=tuple)
    """Further onsets to record in the timeline (they do not change the data)."""
    task: str = "binary"
    """Which target the labels and reviews deliver: ``"binary"`` (``default``),
    ``"regression"`` (``loss_amount``) or ``"multiclass"`` (``risk_grade``). Every target is
    drawn whatever the task, so the task changes no applicant, outcome or delay."""

    def __post_init__(self) -> None:
        if self.days <= 0 or not 0 <= self.history_days < self.days:
            raise ValueError("need days > 0 and 0 <= history_days < days")
        if self.requests_per_day <= 0:
            raise ValueError("requests_per_day must be positive")
        if not 0.0 <= self.label_never_share < 1.0:
            raise ValueError("label_never_share must be in [0, 1)")
        if self.label_delay_median_days <= 0 or self.label_delay_sigma < 0:
            raise ValueError("label delay median must be positive and sigma non-negative")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if self.task not in TARGETS:
            raise ValueError(f"task={self.task!r} must be one of {sorted(TARGETS)}")
        for name in ("covariate_day", "concept_day"):
            day = getattr(self, name)
            if day is not None and not self.history_days <= day < self.days:
                raise ValueError(
                    f"{name}={day:g} must lie in the live period "
                    f"[history_days={self.history_days}, days={self.days})"
                )

    @classmethod
    def small(cls, seed: int = 7, task: str = "binary") -> LoanScenario:
        """The same story in 14 days at 250 requests a day (for ``decayguard demo --fast``):
        4 days of history, recession on day 7, rate shock on day 10.5."""
        return cls(
            seed=seed,
            days=14,
            history_days=4,
            requests_per_day=250.0,
            covariate_day=7.0,
            covariate_ramp_days=1.0,
            concept_day=10.5,
            concept_ramp_days=0.5,
            label_delay_median_days=1.5,
            task=task,
        )

    # -- time ------------------------------------------------------------------------------
    @property
    def end(self) -> datetime:
        """End of the simulated period (exclusive)."""
        return self.start + self.days * _DAY

    @property
    def deployment_time(self) -> datetime:
        """When live traffic starts: the end of the history."""
        return self.at_day(self.history_days)

    def at_day(self, day: float) -> datetime:
        """Simulated time ``day`` days after ``start``."""
        return self.start + timedelta(days=day)

    @property
    def id_prefix(self) -> str:
        return self.request_id_prefix or f"loan-s{self.seed}"

    # -- change points ---------------------------------------------------------------------
    @property
    def covariate_onset(self) -> Onset | None:
        if self.covariate_day is None:
            return None
        return Onset(
            kind="covariate",
            start=self.at_day(self.covariate_day),
            ramp=timedelta(days=self.covariate_ramp_days),
            description="recession: incomes -15%, utilization +0.09, unemployment 8% -> 14%",
            features=("income", "utilization", "employment", "debt_ratio"),
            decay=False,
            detectable_by=("proxy",),
        )

    @property
    def concept_onset(self) -> Onset | None:
        if self.concept_day is None:
            return None
        return Onset(
            kind="concept",
            start=self.at_day(self.concept_day),
            ramp=timedelta(days=self.concept_ramp_days),
            description=(
                "rate shock: debt ratio matters more, high utilization no longer signals "
                "default, self-employed much riskier"
            ),
            features=("debt_ratio", "utilization", "employment"),
            decay=True,
            detectable_by=("review", "realized"),
        )

    def onsets(self) -> list[Onset]:
        """All recorded changes, seasonal patterns included, in time order."""
        seasonal = [
            Onset(
                kind="seasonal",
                start=self.start,
                description="weekly volume cycle: weekends 35-50% quieter, mornings busiest",
                scored=False,
            ),
            Onset(
                kind="seasonal",
                start=self.start,
                description=(
                    f"weekly utilization cycle: +/-{self.utilization_weekly_amplitude:g}, "
                    "highest at weekends"
                ),
                features=("utilization",),
                scored=False,
            ),
        ]
        changes = [o for o in (self.covariate_onset, self.concept_onset) if o is not None]
        return sorted([*seasonal, *changes, *self.extra_onsets], key=lambda o: o.start)

    def timeline(self) -> pd.DataFrame:
        """A compact table of the onsets: day, start, kind, decay, detectable_by, description."""
        rows = [
            {
                "day": (o.start - self.start) / _DAY,
                "start": o.start,
                "kind": o.kind,
                "scored": o.scored,
                "decay": o.decay,
                "ramp_days": o.ramp / _DAY,
                "features": ",".join(o.features),
                "detectable_by": ",".join(o.detectable_by),
                "description": o.description,
            }
            for o in self.onsets()
        ]
        return pd.DataFrame(rows)

    # -- shapes over time ------------------------------------------------------------------
    def recession_strength(self, times: pd.DatetimeIndex) -> FloatArray:
        onset = self.covariate_onset
        return onset.strength(times) if onset else np.zeros(len(times))

    def concept_strength(self, times: pd.DatetimeIndex) -> FloatArray:
        onset = self.concept_onset
        return onset.strength(times) if onset else np.zeros(len(times))

    def utilization_season(self, times: pd.DatetimeIndex) -> FloatArray:
        """Additive weekly utilization cycle, peaking on Saturday evening."""
        peak = pd.Timestamp(self.start) + pd.Timedelta(days=5, hours=18)
        phase = np.asarray((times - peak) / pd.Timedelta(days=7), dtype=np.float64)
        return np.asarray(
            self.utilization_weekly_amplitude * np.cos(2.0 * np.pi * phase), dtype=np.float64
        )

    def expected_requests(self, day: int) -> float:
        """Mean request count of simulated day ``day`` (weekly seasonality)."""
        weekday = self.at_day(day).weekday()
        return float(self.requests_per_day * _WEEKDAY_VOLUME[weekday] / _WEEKDAY_VOLUME.mean())

    def draw_event_times(self, rng: np.random.Generator) -> pd.DatetimeIndex:
        """Arrival times of all requests: Poisson counts per day, a busy-morning intraday shape."""
        hourly = _HOURLY_VOLUME / _HOURLY_VOLUME.sum()
        chunks = []
        for day in range(self.days):
            n = int(rng.poisson(self.expected_requests(day)))
            hours = rng.choice(24, size=n, p=hourly)
            offsets = (day * 24 + hours + rng.random(n)) * 3_600_000_000  # microseconds
            chunks.append(offsets.astype(np.int64))
        micros = np.sort(np.concatenate(chunks))
        return pd.DatetimeIndex(
            pd.Timestamp(self.start) + pd.to_timedelta(micros, unit="us"), name="event_timestamp"
        ).as_unit("us")

    def simulate(self) -> Simulation:
        """Draw the whole scenario (vectorized; the default 28 days are ~11,000 rows)."""
        from decayguard.sim.simulation import Simulation

        return Simulation.draw(self)
