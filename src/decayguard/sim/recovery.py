"""Did the loop fix the decay? The demo's recovery figures, against the simulator's truth.

After the run, :func:`score_recovery` reads what happened from the store (retrainings, the
release history) and scores the predictions that answered clients against the simulator's
true outcomes, day by day: the realized primary metric *as it ran* (whichever version
answered), and what the first champion alone would have scored on the same requests — the
world in which nothing is retrained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from decayguard.config import DecayguardConfig
from decayguard.registry import load_model
from decayguard.registry.manifest import ArtifactManifest
from decayguard.sim.population import FEATURE_NAMES
from decayguard.sim.simulation import Simulation
from decayguard.store import create_store_engine, read_window
from decayguard.store.releases import release_history
from decayguard.store.training_runs import training_history

LAST_DAYS = 7
"""``metric_after`` and ``metric_never_retrain`` are over the run's last week."""


@dataclass(frozen=True)
class Recovery:
    """What the closed loop did about the decay, and what it was worth."""

    metric: str
    """The primary metric (``accuracy``, or ``mae`` for regression)."""
    higher_is_better: bool
    retrains: int
    """Retrainings that trained a model (registered a version)."""
    retrain_started: datetime | None
    """The first retraining that trained, after the onset (its clock: simulated time)."""
    promoted_version: str | None
    promoted_at: datetime | None
    rejected_versions: list[str]
    """Versions the gate rejected or the judge rolled back."""
    metric_before: float | None
    """The week before the onset, as it ran."""
    metric_worst: float | None
    """The worst day after the onset, as it ran."""
    metric_after: float | None
    """The last week of the run, as it ran."""
    metric_never_retrain: float | None
    """The last week of the run, had the first champion kept serving."""
    daily: pd.DataFrame = field(repr=False)
    """``day``, ``as_ran``, ``never_retrain``, ``version`` (the versions that answered)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "retrains": self.retrains,
            "retrain_started": _iso(self.retrain_started),
            "promoted_version": self.promoted_version,
            "promoted_at": _iso(self.promoted_at),
            "rejected_versions": self.rejected_versions,
            "metric_before": self.metric_before,
            "metric_worst": self.metric_worst,
            "metric_after": self.metric_after,
            "metric_never_retrain": self.metric_never_retrain,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _per_row(metric: str, predicted: np.ndarray, truth: np.ndarray) -> NDArray[np.float64]:
    if metric == "mae":
        error = np.abs(predicted.astype(np.float64) - truth.astype(np.float64))
        return np.asarray(error, dtype=np.float64)
    return np.asarray(predicted.astype(str) == truth.astype(str), dtype=np.float64)


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) and np.isfinite(values.mean()) else None


def score_recovery(
    cfg: DecayguardConfig, sim: Simulation, onset: datetime, first_champion: Path
) -> Recovery:
    """The recovery figures of a finished run (see the module doc). ``first_champion`` is
    the exported folder of version 1 (the never-retrain world's model)."""
    name = cfg.model.name
    metric = cfg.gate_metric
    start = sim.scenario.deployment_time
    end = sim.scenario.end
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        runs = training_history(engine, name)
        history = release_history(engine, name)
        window = read_window(engine, name, start, end)
        meta = window.meta()
    finally:
        engine.dispose()
    trained = [r for r in runs if r["status"] == "registered"]
    after_onset = [r["as_of"] for r in trained if pd.Timestamp(r["as_of"]) >= pd.Timestamp(onset)]
    promoted = [
        t
        for t in history
        if t["to_stage"] == "champion" and t["action"] == "promote" and t["version"] != "1"
    ]
    rejected = sorted(
        {str(t["version"]) for t in history if t["to_stage"] in ("rejected", "rolled_back")}
    )

    answered = meta[meta["arm"] != "shadow"]
    truth = sim.truth()
    ids = answered["prediction_id"].astype(str)
    known = ids.isin(truth.index).to_numpy()
    answered = answered[known]
    as_ran = pd.DataFrame(
        {
            "ts": pd.to_datetime(answered["ts"], utc=True).to_numpy(),
            "score": _per_row(
                metric,
                answered["prediction"].to_numpy(dtype=object),
                truth.loc[answered["prediction_id"].astype(str)].to_numpy(dtype=object),
            ),
            "version": answered["model_version"].astype(str).to_numpy(),
        }
    )
    live = sim.between(start, end)
    manifest = ArtifactManifest.read(first_champion)
    exported = load_model(first_champion, sha256=manifest.sha256)
    labels, values = exported.score_columns(
        exported.model.predict_scores(live[list(FEATURE_NAMES)])
    )
    predicted = np.asarray(values if metric == "mae" else labels, dtype=object)
    never = pd.DataFrame(
        {
            "ts": pd.to_datetime(live["event_timestamp"], utc=True).to_numpy(),
            "score": _per_row(metric, predicted, truth.loc[live["request_id"]].to_numpy()),
        }
    )
    day = pd.Timedelta(days=1)
    as_ran["day"] = as_ran["ts"].dt.floor("D")
    never["day"] = never["ts"].dt.floor("D")
    daily = pd.DataFrame(
        {
            "as_ran": as_ran.groupby("day")["score"].mean(),
            "never_retrain": never.groupby("day")["score"].mean(),
            "version": as_ran.groupby("day")["version"].agg(lambda v: "+".join(sorted(set(v)))),
        }
    ).reset_index()
    onset_ts, last = pd.Timestamp(onset), pd.Timestamp(end) - LAST_DAYS * day
    before = as_ran[(as_ran["ts"] >= onset_ts - LAST_DAYS * day) & (as_ran["ts"] < onset_ts)]
    after = daily[daily["day"] >= onset_ts.floor("D")]["as_ran"]
    higher = metric != "mae"
    worst = after.min() if higher else after.max()
    return Recovery(
        metric=metric,
        higher_is_better=higher,
        retrains=len(trained),
        retrain_started=min(after_onset) if after_onset else None,
        promoted_version=str(promoted[0]["version"]) if promoted else None,
        promoted_at=promoted[0]["created_at"] if promoted else None,
        rejected_versions=rejected,
        metric_before=_mean(before["score"]),
        metric_worst=None if not len(after) else float(worst),
        metric_after=_mean(as_ran[as_ran["ts"] >= last]["score"]),
        metric_never_retrain=_mean(never[never["ts"] >= last]["score"]),
        daily=daily,
    )


def last_week(end: datetime) -> tuple[datetime, datetime]:
    """The interval ``metric_after`` and ``metric_never_retrain`` cover."""
    return end - timedelta(days=LAST_DAYS), end
