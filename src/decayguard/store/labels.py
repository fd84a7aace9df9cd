"""Ground-truth labels: idempotent re-delivery, corrections with history (latest wins)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from decayguard.store._sql import member_of
from decayguard.store.schema import as_utc, labels, predictions


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A ground-truth value for one prediction, by id or by entity key and event time."""

    model_name: str
    value: str
    prediction_id: str | None = None
    entity_key: str | None = None
    event_time: datetime | None = None
    source: str = "api"

    def __post_init__(self) -> None:
        if self.prediction_id is None and (self.entity_key is None or self.event_time is None):
            raise ValueError("a label needs prediction_id, or entity_key and event_time")

    @property
    def key(self) -> str:
        if self.prediction_id is not None:
            return f"p:{self.prediction_id}"
        assert self.entity_key is not None
        assert self.event_time is not None
        return f"e:{self.entity_key}@{as_utc(self.event_time).isoformat()}"


@dataclass(slots=True)
class LabelIngestResult:
    """What happened to each delivered label; nothing is dropped silently."""

    inserted: int = 0
    corrected: int = 0
    duplicates: list[str] = field(default_factory=list)
    unknown_prediction_ids: list[str] = field(default_factory=list)


def ingest_labels(
    engine: Engine,
    records: Iterable[LabelRecord],
    *,
    received_at: datetime | None = None,
    require_known_prediction: bool = True,
) -> LabelIngestResult:
    """Store labels. The same value re-delivered for a key is a duplicate (no new row);
    a different value supersedes the current one, which is kept as history.
    Labels for prediction ids the store does not know are reported back and, when
    ``require_known_prediction``, not stored."""
    now = as_utc(received_at or datetime.now(UTC))
    batch: dict[tuple[str, str], LabelRecord] = {}
    for rec in records:
        batch[(rec.model_name, rec.key)] = rec  # latest in the delivery wins
    if not batch:
        return LabelIngestResult()
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                return _ingest(conn, batch, now, require_known_prediction)
        except sa.exc.IntegrityError:
            # A concurrent delivery made a key current first (uq_labels_current): re-read.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _ingest(
    conn: Connection,
    batch: dict[tuple[str, str], LabelRecord],
    now: datetime,
    require_known_prediction: bool,
) -> LabelIngestResult:
    result = LabelIngestResult()
    batch = dict(batch)  # a retry starts again from the whole delivery
    if require_known_prediction:
        ids = [r.prediction_id for r in batch.values() if r.prediction_id is not None]
        known: set[str] = set()
        for condition in member_of(conn, predictions.c.id, ids):
            known.update(
                row[0] for row in conn.execute(sa.select(predictions.c.id).where(condition))
            )
        for k, r in list(batch.items()):
            if r.prediction_id is not None and r.prediction_id not in known:
                result.unknown_prediction_ids.append(r.prediction_id)
                del batch[k]
    current: dict[tuple[str, str], tuple[int, str]] = {}
    keys = sorted({k for _, k in batch})
    for condition in member_of(conn, labels.c.label_key, keys):
        rows = conn.execute(
            sa.select(labels.c.id, labels.c.model_name, labels.c.label_key, labels.c.value)
            .where(condition)
            .where(labels.c.superseded_at.is_(None))
        )
        for row in rows:
            current[(row.model_name, row.label_key)] = (row.id, row.value)
    new_rows, superseded = [], []
    for key, rec in batch.items():
        if key in current:
            row_id, value = current[key]
            if value == rec.value:
                result.duplicates.append(key[1])
                continue
            superseded.append(row_id)
            result.corrected += 1
        else:
            result.inserted += 1
        new_rows.append(
            {
                "model_name": rec.model_name,
                "label_key": rec.key,
                "prediction_id": rec.prediction_id,
                "entity_key": rec.entity_key,
                "event_time": as_utc(rec.event_time) if rec.event_time else None,
                "value": rec.value,
                "source": rec.source,
                "received_at": now,
            }
        )
    for i in range(0, len(superseded), 500):
        conn.execute(
            labels.update()
            .where(labels.c.id.in_(superseded[i : i + 500]))
            .values(superseded_at=now)
        )
    if new_rows:
        conn.execute(labels.insert(), new_rows)
    return result


SHADOW_ARM = "shadow"
"""The arm of a silent row: a request scored by a version that did not answer it."""


def _valid_labels(model_name: str, as_of: datetime | None) -> sa.ColumnElement[bool]:
    """The label rows that are a key's value: the current one, or the one valid at ``as_of``."""
    if as_of is None:
        return sa.and_(labels.c.model_name == model_name, labels.c.superseded_at.is_(None))
    moment = as_utc(as_of)
    return sa.and_(
        labels.c.model_name == model_name,
        labels.c.received_at <= moment,
        sa.or_(labels.c.superseded_at.is_(None), labels.c.superseded_at > moment),
    )


def current_labels(
    engine: Engine,
    model_name: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """The latest label per key, with the prediction it belongs to.

    Labels keyed by entity and event time are joined to the latest *answered* prediction
    for that entity at or before the event time: a silent row (arm ``shadow``, or one that
    names the answered row in ``paired_id``) is the same request scored by another
    version, never a prediction of its own; its label reaches it through ``paired_id``.
    With ``start``/``end``, only labels that can belong to predictions made in
    ``[start, end)`` are read: by id, those whose prediction is in the window; by entity,
    those whose event time is at or after ``start`` (earlier events join earlier
    predictions). With ``as_of``, each key's value as it stood then: received by
    ``as_of`` and not yet corrected (a later correction is not seen, so a re-run at the
    same ``as_of`` reads the same labels).
    """
    columns = (
        labels.c.label_key,
        labels.c.prediction_id,
        labels.c.entity_key,
        labels.c.event_time,
        labels.c.value,
        labels.c.source,
        labels.c.received_at,
    )
    current = _valid_labels(model_name, as_of)
    if start is None and end is None:
        query = sa.select(*columns).where(current)
    else:
        in_window = sa.and_(
            sa.true() if start is None else predictions.c.ts >= as_utc(start),
            sa.true() if end is None else predictions.c.ts < as_utc(end),
        )
        by_id = (
            sa.select(*columns)
            .join(predictions, predictions.c.id == labels.c.prediction_id)
            .where(current, in_window)
        )
        entity_keyed = sa.select(*columns).where(current, labels.c.prediction_id.is_(None))
        if start is not None:
            entity_keyed = entity_keyed.where(labels.c.event_time >= as_utc(start))
        query = sa.union_all(by_id, entity_keyed)  # type: ignore[assignment]
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=[c.name for c in columns])
    by_entity = frame["prediction_id"].isna() if len(frame) else pd.Series(dtype=bool)
    if len(frame) and by_entity.any():
        ent = frame.loc[by_entity]
        rows: list[Any] = []
        with engine.connect() as conn:
            keys = [str(k) for k in ent["entity_key"].unique()]
            for condition in member_of(conn, predictions.c.entity_key, keys):
                rows.extend(
                    conn.execute(
                        sa.select(predictions.c.id, predictions.c.entity_key, predictions.c.ts)
                        .where(predictions.c.model_name == model_name)
                        .where(condition)
                        .where(predictions.c.arm != SHADOW_ARM, predictions.c.paired_id.is_(None))
                    ).all()
                )
        preds = pd.DataFrame(rows, columns=["id", "entity_key", "ts"])
        if len(preds):
            left = ent.assign(event_time=pd.to_datetime(ent["event_time"], utc=True))
            right = preds.assign(ts=pd.to_datetime(preds["ts"], utc=True))
            joined = pd.merge_asof(
                left.sort_values("event_time").drop(columns="prediction_id"),
                right.sort_values("ts"),
                left_on="event_time",
                right_on="ts",
                by="entity_key",
                direction="backward",
            )
            frame.loc[by_entity, "prediction_id"] = (
                joined.set_index("label_key")["id"].reindex(ent["label_key"]).to_numpy()
            )
    return frame


def label_history(engine: Engine, model_name: str, key: str) -> pd.DataFrame:
    """Every value ever delivered for one label key, oldest first."""
    query = (
        sa.select(labels.c.value, labels.c.source, labels.c.received_at, labels.c.superseded_at)
        .where(labels.c.model_name == model_name, labels.c.label_key == key)
        .order_by(labels.c.id)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))


def labels_as_of(engine: Engine, model_name: str, as_of: datetime) -> pd.DataFrame:
    """Every label key's value as it stood at ``as_of`` (received by then, not yet corrected),
    with the time and entity it belongs to: training sets are rebuilt from exactly this.

    Columns: ``label_key``, ``prediction_id``, ``entity_key``, ``label_time`` (the prediction's
    time for labels by id, the event time for labels by entity), ``arm`` (of the prediction;
    ``None`` for labels by entity), ``value``, ``source``, ``received_at``. Labels by id of a
    prediction the store no longer has are left out.
    """
    valid = _valid_labels(model_name, as_of)
    by_id = (
        sa.select(
            labels.c.label_key,
            labels.c.prediction_id,
            predictions.c.entity_key,
            predictions.c.ts.label("label_time"),
            predictions.c.arm,
            labels.c.value,
            labels.c.source,
            labels.c.received_at,
        )
        .join(predictions, predictions.c.id == labels.c.prediction_id)
        .where(valid)
    )
    by_entity = sa.select(
        labels.c.label_key,
        labels.c.prediction_id,
        labels.c.entity_key,
        labels.c.event_time.label("label_time"),
        sa.null().label("arm"),
        labels.c.value,
        labels.c.source,
        labels.c.received_at,
    ).where(valid, labels.c.prediction_id.is_(None))
    query = sa.union_all(by_id, by_entity)
    columns = [
        "label_key",
        "prediction_id",
        "entity_key",
        "label_time",
        "arm",
        "value",
        "source",
        "received_at",
    ]
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=columns)
    for column in ("label_time", "received_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values(["label_time", "label_key"]).reset_index(drop=True)
