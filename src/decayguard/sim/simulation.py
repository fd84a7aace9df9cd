"""One drawn run of a :class:`~decayguard.sim.scenario.LoanScenario`: traffic, truth, labels.

Everything is drawn up front, from independent child streams of one
``numpy.random.SeedSequence(seed)`` (arrival times, applicants, outcomes, label
delays, loss amounts, risk grades), so that slicing by time never changes what a
row looks like, and changing the label-delay parameters does not change the
applicants. The world holds every target at once (``default``, ``loss_amount``,
``risk_grade``); the scenario's ``task`` only picks which one is delivered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from decayguard.sim.labels import LabelDelay
from decayguard.sim.population import (
    FEATURE_NAMES,
    GRADE_COLUMN,
    LABEL_COLUMN,
    LOSS_COLUMN,
    default_probability,
    draw_applicants,
    draw_loss_amount,
    draw_risk_grade,
)
from decayguard.sim.scenario import LoanScenario, Onset
from decayguard.sim.targets import TARGETS, LoanTarget

FEATURE_HISTORY_COLUMNS = ("applicant_id", "event_timestamp", *FEATURE_NAMES, "created")
"""Columns of the Feast feature history (``data/applicant_features.parquet``)."""
LABEL_COLUMNS = ("prediction_id", "applicant_id", "event_timestamp", "arrival_time", "value")
"""Columns of :meth:`Simulation.labels_due`."""


def _ts(value: datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"time {value!r} must be timezone-aware")
    return ts.tz_convert("UTC")


@dataclass(frozen=True, slots=True)
class Simulation:
    """The drawn world. ``frame`` has one row per request, in time order, with columns

    ``request_id`` (also the prediction id to log), ``applicant_id`` (int64),
    ``event_timestamp`` (UTC), the six features, ``default`` (the true outcome,
    int 0/1), ``p_default`` (its true probability), ``loss_amount`` (float, the
    regression target), ``risk_grade`` (``"A"``-``"D"``, the multiclass target),
    ``label_arrival`` (when the label is delivered; ``NaT`` if never) and ``phase``
    (``"history"`` or ``"live"``). Labels and true values are those of the
    scenario's ``task`` (see :meth:`target`).
    """

    scenario: LoanScenario
    frame: pd.DataFrame

    @classmethod
    def draw(cls, scenario: LoanScenario) -> Simulation:
        # Children 0-3 are what they were before the other targets existed (a child's
        # stream depends only on its index), so adding targets changed no earlier draw.
        times_ss, applicants_ss, outcomes_ss, delays_ss, losses_ss, grades_ss = (
            np.random.SeedSequence(scenario.seed).spawn(6)
        )
        times = scenario.draw_event_times(np.random.default_rng(times_ss))
        n = len(times)
        features = draw_applicants(
            np.random.default_rng(applicants_ss),
            recession=scenario.recession_strength(times),
            utilization_season=scenario.utilization_season(times),
        )
        concept = scenario.concept_strength(times)
        p_default = default_probability(features, concept)
        outcome = (np.random.default_rng(outcomes_ss).random(n) < p_default).astype(np.int64)
        delay = LabelDelay(
            median=timedelta(days=scenario.label_delay_median_days),
            sigma=scenario.label_delay_sigma,
            never_share=scenario.label_never_share,
        )
        arrival = times + delay.draw(np.random.default_rng(delays_ss), n)
        index = np.arange(n)
        frame = pd.DataFrame(
            {
                "request_id": [f"{scenario.id_prefix}-{i:07d}" for i in index],
                "applicant_id": (scenario.first_applicant_id + index).astype(np.int64),
                "event_timestamp": times,
            }
        )
        frame = pd.concat([frame, features], axis=1)
        frame[LABEL_COLUMN] = outcome
        frame["p_default"] = p_default
        frame[LOSS_COLUMN] = draw_loss_amount(np.random.default_rng(losses_ss), features, concept)
        frame[GRADE_COLUMN] = draw_risk_grade(np.random.default_rng(grades_ss), features, concept)
        frame["label_arrival"] = arrival
        frame["phase"] = np.where(times < _ts(scenario.deployment_time), "history", "live")
        return cls(scenario=scenario, frame=frame)

    # -- slices ----------------------------------------------------------------------------
    def between(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Rows whose event time is in ``[start, end)``."""
        t = self.frame["event_timestamp"]
        return self.frame[(t >= _ts(start)) & (t < _ts(end))].reset_index(drop=True)

    def reference_frame(self) -> pd.DataFrame:
        """The history before deployment (features and every target): train the first
        champion and build the reference profile from it."""
        return self.frame[self.frame["phase"] == "history"].reset_index(drop=True)

    def live_frame(self) -> pd.DataFrame:
        """The traffic to replay through the serving endpoint, in time order."""
        return self.frame[self.frame["phase"] == "live"].reset_index(drop=True)

    def steps(
        self, step: timedelta = timedelta(days=1), *, start: datetime | None = None
    ) -> Iterator[tuple[pd.Timestamp, pd.Timestamp, pd.DataFrame]]:
        """Walk simulated time from ``start`` (default: deployment) to the end in steps,
        yielding ``(t0, t1, rows with event time in [t0, t1))``."""
        t0 = _ts(start or self.scenario.deployment_time)
        end = _ts(self.scenario.end)
        while t0 < end:
            t1 = min(t0 + pd.Timedelta(step), end)
            yield t0, t1, self.between(t0, t1)
            t0 = t1

    @property
    def onsets(self) -> list[Onset]:
        return self.scenario.onsets()

    def timeline(self) -> pd.DataFrame:
        """The scenario's onsets (see :meth:`LoanScenario.timeline`)."""
        return self.scenario.timeline()

    # -- ground truth ----------------------------------------------------------------------
    def target(self, task: str | None = None) -> LoanTarget:
        """The target of ``task`` (default: the scenario's ``task``): its column, label
        text, training function and reviewer."""
        name = task or self.scenario.task
        try:
            return TARGETS[name]
        except KeyError as exc:
            raise ValueError(f"unknown task {name!r}; expected one of {sorted(TARGETS)}") from exc

    def truth(self, task: str | None = None) -> pd.Series:
        """The delivered label text of every request (``"1"``, ``"1234.56"``, ``"B"``), by
        request id, for ``task`` (default: the scenario's)."""
        target = self.target(task)
        return pd.Series(
            target.to_text(self.frame[target.column]).to_numpy(),
            index=self.frame["request_id"].to_numpy(),
            name=target.column,
        )

    def true_labels(self, prediction_ids: Sequence[str]) -> list[str]:
        """The true label text of each prediction id (``"0"``/``"1"`` for the binary task);
        unknown ids raise KeyError."""
        by_id = self.truth()
        missing = [p for p in prediction_ids if p not in by_id.index]
        if missing:
            raise KeyError(f"unknown prediction id(s): {missing[:5]}")
        return [str(v) for v in by_id.loc[list(prediction_ids)]]

    def labels_due(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Labels whose delivery time falls in ``[start, end)``, in arrival order.

        Columns: ``prediction_id`` (= the request id sent to the endpoint),
        ``applicant_id``, ``event_timestamp``, ``arrival_time`` and ``value``
        (the text of the scenario's target: ``"0"``/``"1"``, ``"1234.56"`` or ``"B"``).
        Labels that never arrive are never due. Calling it on consecutive intervals
        delivers every arriving label exactly once.
        """
        target = self.target()
        arrival = self.frame["label_arrival"]
        due = self.frame[(arrival >= _ts(start)) & (arrival < _ts(end))]
        due = due.sort_values("label_arrival", kind="stable")
        return pd.DataFrame(
            {
                "prediction_id": due["request_id"].to_numpy(),
                "applicant_id": due["applicant_id"].to_numpy(),
                "event_timestamp": due["event_timestamp"].to_numpy(),
                "arrival_time": due["label_arrival"].to_numpy(),
                "value": target.to_text(due[target.column]).to_numpy(),
            },
            columns=list(LABEL_COLUMNS),
        ).astype({"event_timestamp": "datetime64[us, UTC]", "arrival_time": "datetime64[us, UTC]"})

    # -- Feast -----------------------------------------------------------------------------
    def feature_history(self, until: datetime | None = None) -> pd.DataFrame:
        """Feature rows for the Feast offline store, up to ``until`` (default: all).

        One row per applicant: ``applicant_id``, ``event_timestamp``, the six
        features and ``created`` (when the row was written: the application time).
        """
        rows = (
            self.frame if until is None else self.frame[self.frame["event_timestamp"] < _ts(until)]
        )
        history = rows[["applicant_id", "event_timestamp", *FEATURE_NAMES]].copy()
        history["created"] = history["event_timestamp"]
        return history.reset_index(drop=True)
