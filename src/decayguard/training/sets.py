"""Training sets for retraining: matured labels from the store, features from Feast, a holdout.

1. **Labels** are the store's, as they stood at ``labels_as_of`` (later corrections are not
   seen, so the set can be rebuilt): labels by prediction id take the prediction's entity and
   time, labels by entity keep their own. Labels of the shadow arm (never answered) are left
   out; one label per entity and time (the latest received).
2. **Maturity.** Labels arrive days late, and not at random (a default is known later than a
   repayment): a day whose answered predictions are not yet ``feedback.label_maturity``
   labelled would teach the model a skewed world. The trailing run of such days is cut off;
   the set ends before it (``window_end``).
3. **Features** come from the project's Feast repo by a point-in-time join over
   ``features.training_window`` (:meth:`decayguard.features.FeatureRepo.training_set`), so a
   row never sees a value from after its label's time.
4. **The holdout**: the last ``training.holdout_days`` before ``window_end`` are held out by
   time. The training function never sees them; the gate scores both models on them.

The lineage hash is the SHA-256 of the whole joined frame (training rows and holdout rows);
:func:`rebuild_point_in_time_set` rebuilds it from the store and Feast.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from decayguard.config import CONFIG_FILENAME, DecayguardConfig
from decayguard.errors import ConfigError, InputValidationError
from decayguard.features.joins import PointInTimeSet
from decayguard.features.lineage import TrainingSetLineage, frame_sha256
from decayguard.features.repo import FeatureRepo
from decayguard.features.windows import TIME_COLUMN, WEIGHT_COLUMN, window_from_config
from decayguard.monitoring.task_base import ModelTask
from decayguard.store.labels import labels_as_of
from decayguard.store.predictions import answered_times
from decayguard.store.schema import as_utc
from decayguard.training.contract import TrainingMetadata, TrainingSet

LABEL_KEY_COLUMN = "label_key"
PREDICTION_ID_COLUMN = "prediction_id"


@dataclass(frozen=True)
class RetrainingData:
    """A built training set, its holdout and the lineage that pins both."""

    training: TrainingSet
    """What the training function receives (holdout rows excluded)."""
    holdout: pd.DataFrame
    """Holdout rows: entity key, time, label key, the label column and the features."""
    frame: pd.DataFrame
    """The whole point-in-time frame the lineage hash covers."""
    lineage: TrainingSetLineage


@dataclass(frozen=True)
class WaitingForLabels:
    """Too few usable labels to train: how many there are, how many are needed, and why."""

    have: int
    need: int
    detail: str

    @property
    def message(self) -> str:
        return f"waiting for labels: {self.have} usable, {self.need} needed ({self.detail})"


def _entity_key(cfg: DecayguardConfig) -> str:
    key = cfg.model.entity_key
    if not key:
        raise ConfigError(
            f"{cfg.root / CONFIG_FILENAME}: model.entity_key: retraining joins labels to Feast "
            "features by entity and time; name the entity key column"
        )
    return key


def training_labels(
    cfg: DecayguardConfig, engine: Engine, as_of: datetime, *, until: datetime | None = None
) -> pd.DataFrame:
    """The store's labels as of ``as_of``, one per entity and time, as a frame Feast can join:
    the entity key column, ``event_timestamp``, ``label_key``, ``prediction_id`` and the label
    column (``model.target``, as text). ``until`` drops labels of later times."""
    key = _entity_key(cfg)
    raw = labels_as_of(engine, cfg.model.name, as_of)
    raw = raw[(raw["arm"] != "shadow") | raw["arm"].isna()]
    raw = raw.dropna(subset=["entity_key", "label_time"])
    if until is not None:
        raw = raw[raw["label_time"] <= pd.Timestamp(as_utc(until))]
    raw = raw.sort_values(["received_at", "label_key"]).drop_duplicates(
        ["entity_key", "label_time"], keep="last"
    )
    frame = pd.DataFrame(
        {
            key: raw["entity_key"].astype(str).to_numpy(),
            TIME_COLUMN: raw["label_time"].to_numpy(),
            LABEL_KEY_COLUMN: raw["label_key"].astype(str).to_numpy(),
            PREDICTION_ID_COLUMN: raw["prediction_id"].astype(object).to_numpy(),
            cfg.model.target: raw["value"].astype(str).to_numpy(),
        }
    )
    frame[TIME_COLUMN] = pd.to_datetime(frame[TIME_COLUMN], utc=True)
    return frame.sort_values([TIME_COLUMN, LABEL_KEY_COLUMN]).reset_index(drop=True)


def maturity_cutoff(
    cfg: DecayguardConfig, engine: Engine, labels: pd.DataFrame, now: datetime
) -> tuple[datetime, dict[str, Any]]:
    """The start of the trailing run of days whose answered predictions are less than
    ``feedback.label_maturity`` labelled (``now`` when there is none), and the coverage seen."""
    now = as_utc(now)
    by_id = labels[labels[PREDICTION_ID_COLUMN].notna()]
    if by_id.empty:
        return now, {"immature_days": 0}
    first = by_id[TIME_COLUMN].min().floor("D").to_pydatetime()
    served = answered_times(engine, cfg.model.name, first, now)
    if served.empty:
        return now, {"immature_days": 0}
    served_days = served.dt.floor("D").value_counts()
    labelled_days = by_id[TIME_COLUMN].dt.floor("D").value_counts()
    coverage = (labelled_days.reindex(served_days.index).fillna(0) / served_days).sort_index()
    maturity = cfg.feedback.label_maturity
    cutoff: pd.Timestamp | None = None
    for day, share in coverage[::-1].items():
        if share >= maturity:
            break
        cutoff = pd.Timestamp(day)
    if cutoff is None:
        return now, {"immature_days": 0, "latest_coverage": float(coverage.iloc[-1])}
    immature = coverage[coverage.index >= cutoff]
    return min(cutoff.to_pydatetime(), now), {
        "immature_days": len(immature),
        "immature_coverage": [round(float(v), 4) for v in immature],
        "latest_mature_coverage": float(coverage[coverage.index < cutoff].iloc[-1])
        if (coverage.index < cutoff).any()
        else None,
    }


def label_counts(task: str, labels: pd.Series) -> dict[str, int]:
    """Training rows per class (classifiers), or ``{"rows": n}`` (regression)."""
    if task == "regression":
        return {"rows": len(labels)}
    counts = labels.astype(str).value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def build_retraining_data(
    cfg: DecayguardConfig,
    engine: Engine,
    repo: FeatureRepo,
    task: ModelTask,
    *,
    now: datetime,
    labels_as_of_time: datetime,
    save: bool = True,
    since: datetime | None = None,
) -> RetrainingData | WaitingForLabels:
    """The point-in-time training set for a retraining as of ``now`` (see the module doc).

    ``since``: learn only from labels of predictions made from then on (a retraining after a
    decay: the older labels describe the world before it changed)."""
    need = cfg.training.min_labels
    labels = training_labels(cfg, engine, labels_as_of_time, until=now)
    if since is not None:
        labels = labels[labels[TIME_COLUMN] >= pd.Timestamp(as_utc(since))]
        if labels.empty:
            return WaitingForLabels(
                0,
                need,
                f"no label yet for predictions since the decay began ({since:%Y-%m-%d %H:%M})",
            )
    if labels.empty:
        return WaitingForLabels(0, need, "the store holds no labels for this model yet")
    cutoff, coverage = maturity_cutoff(cfg, engine, labels, now)
    end = cutoff - timedelta(microseconds=1) if cutoff < as_utc(now) else as_utc(now)
    immature = int((labels[TIME_COLUMN] > pd.Timestamp(end)).sum())
    try:
        joined: PointInTimeSet = repo.training_set(
            labels,
            window=window_from_config(cfg.features),
            end=end,
            feature_service=cfg.features.feature_service,
            save=save,
        )
    except InputValidationError as exc:
        if exc.field == "labels":
            return WaitingForLabels(0, need, f"{immature} labels not matured yet; {exc}")
        raise
    frame = joined.frame
    features = [f.name for f in cfg.model.features]
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ConfigError(
            f"{cfg.root / CONFIG_FILENAME}: model.features: {missing[0]!r} is not served by the "
            f"Feast feature service {joined.lineage.feature_service!r}"
        )
    usable = frame[~frame[features].isna().all(axis=1)]
    bound = cutoff if cutoff < as_utc(now) else as_utc(now)
    holdout_start = pd.Timestamp(bound) - pd.Timedelta(days=cfg.training.holdout_days)
    train = usable[usable[TIME_COLUMN] < holdout_start].reset_index(drop=True)
    holdout = usable[usable[TIME_COLUMN] >= holdout_start].reset_index(drop=True)
    if len(train) < need:
        after = f" since the decay began ({since:%Y-%m-%d %H:%M})" if since is not None else ""
        detail = (
            f"{len(usable)} matured labels{after} with features up to {end:%Y-%m-%d %H:%M}, "
            f"of which {len(holdout)} are the holdout (training.holdout_days); {immature} newer "
            f"labels have not matured (feedback.label_maturity {cfg.feedback.label_maturity:g})"
        )
        return WaitingForLabels(len(train), need, detail)
    labels_array = pd.Series(task.labels_array(train[cfg.model.target].to_numpy()), name="label")
    lineage = replace(
        joined.lineage,
        extra={
            "model_name": cfg.model.name,
            "entity_key": _entity_key(cfg),
            "target": cfg.model.target,
            "labels_as_of": as_utc(labels_as_of_time).isoformat(),
            "holdout_start": holdout_start.isoformat(),
            "holdout_days": cfg.training.holdout_days,
            "train_rows": len(train),
            "holdout_rows": len(holdout),
            "train_sha256": frame_sha256(train),
            "holdout_sha256": frame_sha256(holdout),
            "immature_labels": immature,
            "maturity": {"label_maturity": cfg.feedback.label_maturity, **coverage},
        },
    )
    weights = (
        pd.Series(train[WEIGHT_COLUMN].to_numpy(dtype=np.float64), name=WEIGHT_COLUMN)
        if WEIGHT_COLUMN in train.columns
        else None
    )
    metadata = TrainingMetadata(
        model_name=cfg.model.name,
        task=task.name,
        target=cfg.model.target,
        lineage_hash=lineage.frame_sha256,
        window=lineage.window,
        window_start=lineage.window_start,
        window_end=lineage.window_end,
        holdout_start=holdout_start.isoformat(),
        labels_as_of=as_utc(labels_as_of_time).isoformat(),
        label_counts=label_counts(task.name, labels_array),
        holdout_rows=len(holdout),
        feature_refs=list(lineage.features),
        feature_service=lineage.feature_service,
    )
    training = TrainingSet(
        features=train[features].reset_index(drop=True),
        labels=labels_array,
        sample_weight=weights,
        metadata=metadata,
    )
    return RetrainingData(training=training, holdout=holdout, frame=frame, lineage=lineage)


def rebuild_point_in_time_set(
    cfg: DecayguardConfig, engine: Engine, repo: FeatureRepo, lineage: TrainingSetLineage
) -> PointInTimeSet:
    """Rebuild a retraining's frame from the store and Feast; same hash or an ArtifactError
    saying what changed (see :meth:`FeatureRepo.reproduce_training_set`)."""
    as_of = lineage.extra.get("labels_as_of")
    if not as_of:
        raise InputValidationError("lineage", "this record has no labels_as_of: not a retraining")
    labels = training_labels(cfg, engine, datetime.fromisoformat(str(as_of)))
    return repo.reproduce_training_set(lineage, labels)
