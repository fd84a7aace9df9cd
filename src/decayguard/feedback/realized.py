"""Realized performance from retrospective labels, per window, with label coverage.

Ground truth arrives late and partially. For each window of predictions this joins the
current label of every prediction (by id, or by entity and event time), computes the
realized metrics of the model's task (:meth:`decayguard.monitoring.tasks.ModelTask.realized`:
accuracy and friends for classifiers, MAE and friends for regressors; intervals included),
and reports the window's *label coverage*: the share of its
predictions that have a label. Until the coverage reaches the configured maturity
(``feedback.label_maturity``) the window's figures are *provisional*: they describe the
predictions whose outcome came first, which are rarely a random subset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from decayguard.monitoring import MetricEstimate
from decayguard.monitoring.tasks import ModelOutputs, ModelTask, task_for
from decayguard.store import MetricPoint, current_labels, read_window
from decayguard.store.schema import as_utc

__all__ = ["RealizedWindow", "answered_ids", "realized_performance"]

STRATEGY = "realized"
"""The ``strategy`` of metric points computed from retrospective labels."""
SHADOW_ARM = "shadow"
"""Predictions logged with this arm were never answered to a client (a version scoring
the request silently beside the one that answered, naming it in ``paired_id``): not part
of a model's realized performance unless asked for by ``arm`` or ``version``."""


@dataclass(frozen=True)
class RealizedWindow:
    """Realized metrics of one window of predictions, and how complete its labels are."""

    start: datetime
    end: datetime
    predictions: int
    labeled: int
    maturity: float
    metrics: Mapping[str, MetricEstimate] = field(default_factory=dict)

    @property
    def coverage(self) -> float | None:
        """Share of the window's predictions that have a label (``None`` if empty)."""
        return self.labeled / self.predictions if self.predictions else None

    @property
    def provisional(self) -> bool:
        """Whether too few labels have arrived for the figures to be final."""
        return self.coverage is None or self.coverage < self.maturity

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "predictions": self.predictions,
            "labeled": self.labeled,
            "coverage": self.coverage,
            "provisional": self.provisional,
            "maturity": self.maturity,
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
        }

    def to_metric_points(self, model_name: str) -> list[MetricPoint]:
        """Store-ready points; each carries the window's coverage and provisional flag."""
        return [
            MetricPoint(
                model_name=model_name,
                window_start=self.start,
                window_end=self.end,
                strategy=STRATEGY,
                metric=name,
                value=None if np.isnan(m.value) else m.value,
                lower=None if np.isnan(m.lower) else m.lower,
                upper=None if np.isnan(m.upper) else m.upper,
                n=m.n,
                coverage=self.coverage,
                provisional=self.provisional,
            )
            for name, m in self.metrics.items()
        ]


def _window_bounds(
    start: datetime, end: datetime, window: timedelta | None
) -> list[tuple[datetime, datetime]]:
    if window is None:
        return [(start, end)]
    if window <= timedelta(0):
        raise ValueError("the window length must be positive")
    bounds = []
    left = start
    while left < end:
        right = min(left + window, end)
        bounds.append((left, right))
        left = right
    return bounds


def answered_ids(meta: pd.DataFrame) -> NDArray[np.object_]:
    """The id of the answered prediction of each logged row: its own id when it answered,
    the ``paired_id`` it names when it scored the request silently (``None`` for a silent
    row logged before rows were paired). Labels and reviews belong to answered ids."""
    own = meta["prediction_id"].astype(object)
    if "paired_id" in meta.columns:
        paired = meta["paired_id"].astype(object)
    else:  # pragma: no cover - a window read before rows were paired
        paired = pd.Series(None, index=meta.index, dtype=object)
    ids = own.where(meta["arm"].astype(str) != SHADOW_ARM, paired)
    return ids.where(ids.notna(), None).to_numpy(dtype=object)


def _labeled_predictions(
    engine: Engine,
    model_name: str,
    start: datetime,
    end: datetime,
    arm: str | None,
    task: ModelTask,
    version: str | None,
) -> tuple[pd.DataFrame, ModelOutputs]:
    window = read_window(engine, model_name, start, end, model_version=version, arm=arm)
    meta, logged = window.meta(), window.outputs()
    if arm is None and version is None:
        answered = (meta["arm"] != SHADOW_ARM).to_numpy()
        meta = meta[answered].reset_index(drop=True)
        logged = logged[answered].reset_index(drop=True)
    outputs = task.outputs_from_log(meta, logged)
    frame = pd.DataFrame(
        {
            "answered_id": answered_ids(meta),
            "ts": pd.to_datetime(meta["ts"], utc=True),
            "prediction": meta["prediction"].astype(object).to_numpy(),
        }
    )
    labels = current_labels(engine, model_name, start, end)
    if len(labels):
        latest = (
            labels.dropna(subset=["prediction_id"])
            .sort_values("received_at")
            .drop_duplicates("prediction_id", keep="last")
        )
        frame = frame.merge(
            latest[["prediction_id", "value"]]
            .astype({"prediction_id": str})
            .rename(columns={"prediction_id": "answered_id"}),
            on="answered_id",
            how="left",
        )
    else:
        frame["value"] = None
    return frame, outputs


def realized_performance(
    engine: Engine,
    model_name: str,
    start: datetime,
    end: datetime,
    *,
    window: timedelta | None = None,
    arm: str | None = None,
    version: str | None = None,
    maturity: float = 0.8,
    task: ModelTask | None = None,
    confidence: float = 0.95,
) -> list[RealizedWindow]:
    """Realized metrics of ``model_name`` for predictions in ``[start, end)``, one
    :class:`RealizedWindow` per ``window`` (or one for the whole range), each with its
    label coverage and whether it is still provisional.

    ``arm`` selects one serving arm; by default every arm that answered clients (all but
    ``shadow``). ``version`` evaluates one model version on every request it scored,
    answered or silent (during a shadow or canary trial both versions score every
    request): a silent row takes the label of the answered row it names in
    ``paired_id``, and counts in the coverage like any other. ``task`` says which metrics
    apply (default: a binary model whose positive class is ``"1"``)."""
    if not 0.0 < maturity <= 1.0:
        raise ValueError(f"label maturity must be within (0, 1], got {maturity}")
    task = task or task_for("binary", classes=("0", "1"), positive_class="1")
    start, end = as_utc(start), as_utc(end)
    frame, outputs = _labeled_predictions(engine, model_name, start, end, arm, task, version)
    results = []
    for left, right in _window_bounds(start, end, window):
        ts = frame["ts"]
        in_window = (ts >= pd.Timestamp(left)) & (ts < pd.Timestamp(right))
        rows = frame[in_window]
        usable = (in_window & frame["value"].notna() & frame["prediction"].notna()).to_numpy()
        labeled = frame[usable]
        metrics: Mapping[str, MetricEstimate] = {}
        if len(labeled):
            metrics = task.realized(
                task.labels_array(labeled["value"].to_numpy()),
                outputs.take(usable),
                confidence=confidence,
            )
        results.append(
            RealizedWindow(
                start=left,
                end=right,
                predictions=len(rows),
                labeled=len(labeled),
                maturity=maturity,
                metrics=metrics,
            )
        )
    return results
