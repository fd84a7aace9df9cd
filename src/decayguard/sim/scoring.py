"""Scoring what a monitor detected against the scenario's known onsets.

An *alarm* is a time and the strategy that raised it: ``"proxy"`` (feature or
prediction drift, data quality, a label-free estimate: an early warning that the
inputs changed) or ``"review"`` / ``"realized"`` (performance from reviewed or
labelled predictions below threshold: it claims the model decayed).
The rules, applied to the scored onsets in time order:

* an alarm belongs to the latest scored onset that started at or before it;
  the first alarm of each strategy in an onset's span is that onset's
  detection by the strategy, and its delay is measured from the onset's start;
* an alarm before the first scored onset is a false alarm, and so is a decay
  alarm (review, realized) in the span of an onset that is not a decay
  (a covariate shift that leaves the model as accurate as before);
* a drift alarm that keeps firing after a later onset is not false (the
  earlier drift is still there), but it is not a detection of the later one
  unless that onset lists the strategy in ``detectable_by``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from decayguard.sim.scenario import Onset, Strategy

DECAY_STRATEGIES: frozenset[str] = frozenset({"review", "realized"})
"""Strategies whose alarms claim that the model's performance decayed."""
STRATEGIES: tuple[Strategy, ...] = ("proxy", "review", "realized")


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm raised by the monitor, at simulated time ``time``."""

    time: datetime
    strategy: Strategy
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AlarmScore:
    """``detections``: one row per scored onset and strategy (``onset``, ``kind``, ``start``,
    ``strategy``, ``expected``, ``detected_at``, ``delay``; ``NaT`` when not detected).
    ``false_alarms``: ``time``, ``strategy``, ``detail``, ``reason``."""

    detections: pd.DataFrame
    false_alarms: pd.DataFrame


def score_alarms(
    onsets: Sequence[Onset], alarms: Sequence[Alarm], *, since: datetime | None = None
) -> AlarmScore:
    """Score ``alarms`` against the scored ``onsets`` (see the module docstring). Alarms
    before ``since`` (typically the deployment time) are ignored."""
    scored = sorted((o for o in onsets if o.scored), key=lambda o: o.start)
    ordered = sorted((a for a in alarms if since is None or a.time >= since), key=lambda a: a.time)
    first: dict[tuple[int, str], datetime] = {}
    false_rows = []
    for alarm in ordered:
        index = max((i for i, o in enumerate(scored) if o.start <= alarm.time), default=None)
        if index is None:
            false_rows.append((alarm, "before any onset"))
            continue
        if alarm.strategy in DECAY_STRATEGIES and not any(o.decay for o in scored[: index + 1]):
            false_rows.append((alarm, f"decay alarm, but {scored[index].kind} drift is no decay"))
            continue
        first.setdefault((index, alarm.strategy), alarm.time)

    rows = []
    for i, onset in enumerate(scored):
        for strategy in STRATEGIES:
            detected = first.get((i, strategy))
            expected = strategy in onset.detectable_by
            if detected is not None and not expected and _carried_over(scored, i, strategy, first):
                detected = None  # an earlier drift still firing, not a detection of this onset
            rows.append(
                {
                    "onset": i,
                    "kind": onset.kind,
                    "start": pd.Timestamp(onset.start),
                    "strategy": strategy,
                    "expected": expected,
                    "detected_at": pd.Timestamp(detected) if detected else pd.NaT,
                    "delay": pd.Timestamp(detected) - pd.Timestamp(onset.start)
                    if detected
                    else pd.NaT,
                }
            )
    false_alarms = pd.DataFrame(
        [(a.time, a.strategy, a.detail, reason) for a, reason in false_rows],
        columns=["time", "strategy", "detail", "reason"],
    )
    return AlarmScore(pd.DataFrame(rows), false_alarms)


def _carried_over(
    scored: Sequence[Onset], index: int, strategy: str, first: dict[tuple[int, str], datetime]
) -> bool:
    """Whether ``strategy`` already detected an earlier onset (so its alarms in a later span
    may just be the earlier change still showing)."""
    return any((j, strategy) in first for j in range(index))
