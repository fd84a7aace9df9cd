"""Writing and reading the prediction log.

Writes are batched and idempotent by prediction id (a replayed spool never
duplicates a row). Reads return a whole window as Arrow, decoded from one
columnar blob per written batch (see :mod:`decayguard.store.schema`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from decayguard.store._sql import member_of
from decayguard.store.schema import as_utc, prediction_batches, predictions

INPUT_PREFIX = "inputs."
OUTPUT_PREFIX = "outputs."
META_COLUMNS = (
    "prediction_id",
    "ts",
    "model_version",
    "arm",
    "entity_key",
    "prediction",
    "score",
    "inclusion_prob",
    "review_sampled",
    "paired_id",
)


def _arrow_strings(t: pa.DataType) -> Any:
    # Arrow-backed pandas strings: zero-copy, where object strings cost ~0.5 s per 1M rows.
    return pd.StringDtype("pyarrow") if t in (pa.string(), pa.large_string()) else None


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Convert to pandas keeping text columns Arrow-backed (fast for large windows)."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_arrow_strings)
    return frame


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One logged prediction, as the serving runtime writes it."""

    id: str
    ts: datetime
    model_name: str
    model_version: str
    arm: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    prediction: str | None = None
    score: float | None = None
    inclusion_prob: float | None = None
    review_sampled: bool = False
    entity_key: str | None = None
    paired_id: str | None = None
    """For a silent row (arm ``shadow``: scored beside the answer, never shown), the id of
    the answered prediction of the same request row; ``None`` for answered rows."""

    def to_json(self) -> str:
        """One line of JSON (the serving spool's format)."""
        d = {f: getattr(self, f) for f in self.__slots__}
        d["ts"] = as_utc(self.ts).isoformat()
        d["inputs"] = dict(self.inputs)
        d["outputs"] = dict(self.outputs)
        return json.dumps(d, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, line: str | bytes) -> PredictionRecord:
        d = json.loads(line)
        d["ts"] = datetime.fromisoformat(d["ts"])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class InsertResult:
    inserted: int
    duplicates: int


def _column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed types in one input (say 3 and "3"): keep them, as text.
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def records_to_arrow(records: Sequence[PredictionRecord]) -> pa.Table:
    """The columnar form of a batch: meta columns, then ``inputs.*`` and ``outputs.*``."""
    cols: dict[str, Any] = {
        "prediction_id": pa.array([r.id for r in records], type=pa.string()),
        "ts": pa.array([as_utc(r.ts) for r in records], type=pa.timestamp("us", tz="UTC")),
        "model_version": pa.array([r.model_version for r in records], type=pa.string()),
        "arm": pa.array([r.arm for r in records], type=pa.string()),
        "entity_key": pa.array([r.entity_key for r in records], type=pa.string()),
        "prediction": pa.array([r.prediction for r in records], type=pa.string()),
        "score": pa.array([r.score for r in records], type=pa.float64()),
        "inclusion_prob": pa.array([r.inclusion_prob for r in records], type=pa.float64()),
        "review_sampled": pa.array([r.review_sampled for r in records], type=pa.bool_()),
        "paired_id": pa.array([r.paired_id for r in records], type=pa.string()),
    }
    for prefix, attr in ((INPUT_PREFIX, "inputs"), (OUTPUT_PREFIX, "outputs")):
        names: dict[str, None] = {}
        for r in records:
            names.update(dict.fromkeys(getattr(r, attr)))
        for name in names:
            cols[prefix + name] = _column([getattr(r, attr).get(name) for r in records])
    return pa.table(cols)


def _to_ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _existing_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for condition in member_of(conn, predictions.c.id, ids):
        found.update(row[0] for row in conn.execute(sa.select(predictions.c.id).where(condition)))
    return found


def _insert_model_batch(conn: Connection, model: str, batch: list[PredictionRecord]) -> int:
    table = records_to_arrow(batch)
    ts = [as_utc(r.ts) for r in batch]
    batch_id = conn.execute(
        prediction_batches.insert().returning(prediction_batches.c.id),
        {
            "model_name": model,
            "ts_min": min(ts),
            "ts_max": max(ts),
            "n_rows": len(batch),
            "payload": _to_ipc(table),
        },
    ).scalar_one()
    conn.execute(
        predictions.insert(),
        [
            {
                "id": r.id,
                "ts": t,
                "model_name": model,
                "model_version": r.model_version,
                "arm": r.arm,
                "entity_key": r.entity_key,
                "prediction": r.prediction,
                "score": r.score,
                "inclusion_prob": r.inclusion_prob,
                "review_sampled": r.review_sampled,
                "paired_id": r.paired_id,
                "batch_id": batch_id,
                "batch_row": i,
            }
            for i, (r, t) in enumerate(zip(batch, ts, strict=True))
        ],
    )
    return len(batch)


def insert_predictions(engine: Engine, records: Iterable[PredictionRecord]) -> InsertResult:
    """Insert a batch of predictions in one transaction; ids already stored are skipped.

    Re-inserting the same records (a spool replay after a crash) is a no-op, so the
    serving logger can deliver at least once and the store still holds each
    prediction exactly once.
    """
    unique: dict[str, PredictionRecord] = {}
    for r in records:
        unique.setdefault(r.id, r)
    if not unique:
        return InsertResult(0, 0)
    with engine.begin() as conn:
        existing = _existing_ids(conn, list(unique))
        by_model: dict[str, list[PredictionRecord]] = {}
        for r in unique.values():
            if r.id not in existing:
                by_model.setdefault(r.model_name, []).append(r)
        inserted = sum(_insert_model_batch(conn, m, b) for m, b in by_model.items())
    return InsertResult(inserted=inserted, duplicates=len(unique) - inserted)


@dataclass(frozen=True)
class PredictionWindow:
    """All predictions of one model in ``[start, end)``, as one Arrow table."""

    model_name: str
    start: datetime
    end: datetime
    table: pa.Table

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def _select(self, prefix: str) -> pd.DataFrame:
        names = [n for n in self.table.column_names if n.startswith(prefix)]
        frame = arrow_to_pandas(self.table.select(names))
        frame.columns = [n[len(prefix) :] for n in names]
        return frame

    def meta(self) -> pd.DataFrame:
        """Prediction id, time, version, arm, entity, prediction, score, inclusion
        probability, review draw and ``paired_id`` (the answered prediction a silent row
        pairs with; null for answered rows and for batches logged before it existed)."""
        return arrow_to_pandas(_with_paired_id(self.table).select(list(META_COLUMNS)))

    def inputs(self) -> pd.DataFrame:
        """The model inputs, one column per feature (prefix stripped)."""
        return self._select(INPUT_PREFIX)

    def outputs(self) -> pd.DataFrame:
        """The model outputs (prediction, class probabilities...), prefix stripped."""
        return self._select(OUTPUT_PREFIX)

    def to_pandas(self) -> pd.DataFrame:
        """Everything, with ``inputs.``/``outputs.`` prefixed column names."""
        return arrow_to_pandas(self.table)

    def without_arm(self, arm: str) -> PredictionWindow:
        """The same window without the predictions of ``arm`` (e.g. ``shadow``: scored
        silently beside the champion, never answered)."""
        if not len(self):
            return self
        keep = pc.invert(pc.fill_null(pc.equal(self.table.column("arm"), arm), False))
        return PredictionWindow(self.model_name, self.start, self.end, self.table.filter(keep))


def _empty_table() -> pa.Table:
    return records_to_arrow([])


def _with_paired_id(table: pa.Table) -> pa.Table:
    """Batches written before silent rows were paired have no ``paired_id``: null."""
    if "paired_id" in table.column_names:
        return table
    return table.append_column("paired_id", pa.nulls(table.num_rows, type=pa.string()))


def read_window(
    engine: Engine,
    model_name: str,
    start: datetime,
    end: datetime,
    *,
    model_version: str | None = None,
    arm: str | None = None,
) -> PredictionWindow:
    """Read a model's predictions with ``start <= ts < end`` (optionally one version/arm)."""
    start, end = as_utc(start), as_utc(end)
    query = (
        sa.select(prediction_batches.c.payload)
        .where(prediction_batches.c.model_name == model_name)
        .where(prediction_batches.c.ts_max >= start)
        .where(prediction_batches.c.ts_min < end)
        .order_by(prediction_batches.c.id)
    )
    tables = []
    with engine.connect() as conn:
        for (payload,) in conn.execute(query):
            tables.append(pa.ipc.open_stream(payload).read_all())
    if not tables:
        return PredictionWindow(model_name, start, end, _empty_table())
    table = _with_paired_id(pa.concat_tables(tables, promote_options="permissive"))
    ts = table.column("ts")
    mask = pc.and_(
        pc.greater_equal(ts, pa.scalar(start, type=ts.type)),
        pc.less(ts, pa.scalar(end, type=ts.type)),
    )
    if model_version is not None:
        mask = pc.and_(mask, pc.equal(table.column("model_version"), model_version))
    if arm is not None:
        mask = pc.and_(mask, pc.equal(table.column("arm"), arm))
    return PredictionWindow(model_name, start, end, table.filter(mask))


def count_predictions(engine: Engine, model_name: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(predictions)
    if model_name is not None:
        query = query.where(predictions.c.model_name == model_name)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def get_prediction(engine: Engine, prediction_id: str) -> dict[str, Any] | None:
    """One prediction with its inputs and outputs, or ``None`` if unknown."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(predictions, prediction_batches.c.payload)
            .join(prediction_batches, predictions.c.batch_id == prediction_batches.c.id)
            .where(predictions.c.id == prediction_id)
        ).first()
    if row is None:
        return None
    m = row._mapping
    table = pa.ipc.open_stream(m["payload"]).read_all().slice(m["batch_row"], 1)
    full = table.to_pylist()[0]
    return {
        "id": m["id"],
        "ts": m["ts"],
        "model_name": m["model_name"],
        "model_version": m["model_version"],
        "arm": m["arm"],
        "entity_key": m["entity_key"],
        "prediction": m["prediction"],
        "score": m["score"],
        "inclusion_prob": m["inclusion_prob"],
        "review_sampled": m["review_sampled"],
        "paired_id": m["paired_id"],
        "inputs": {
            k[len(INPUT_PREFIX) :]: v for k, v in full.items() if k.startswith(INPUT_PREFIX)
        },
        "outputs": {
            k[len(OUTPUT_PREFIX) :]: v for k, v in full.items() if k.startswith(OUTPUT_PREFIX)
        },
    }


def answered_times(
    engine: Engine, model_name: str, start: datetime | None, end: datetime
) -> pd.Series:
    """The times of the predictions answered to clients (every arm but ``shadow``) with
    ``start <= ts < end``: what label coverage is measured against."""
    query = sa.select(predictions.c.ts).where(
        predictions.c.model_name == model_name,
        predictions.c.arm != "shadow",
        predictions.c.ts < as_utc(end),
    )
    if start is not None:
        query = query.where(predictions.c.ts >= as_utc(start))
    with engine.connect() as conn:
        values = [row[0] for row in conn.execute(query)]
    return pd.Series(pd.to_datetime(values, utc=True), name="ts", dtype="datetime64[ns, UTC]")
