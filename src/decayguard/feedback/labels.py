"""Ground-truth delivery: rows, CSV and Parquet files into the store's label history.

One core for every transport (the control API, ``decayguard labels import`` and Python
callers): rows are validated into :class:`~decayguard.store.LabelRecord` objects — a
bad row is refused with the row number and the field, and nothing of that delivery
is stored — then handed to :func:`~decayguard.store.ingest_labels`, which keeps
re-delivery idempotent and corrections as history (latest wins). The
:class:`LabelImportReport` tells the caller what happened to every label: inserted,
corrected, duplicate, repeated within the delivery, unknown prediction id, or keyed by
an entity for which no prediction exists yet at that time (stored, joined later).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.errors import InputValidationError
from decayguard.feedback.label_rules import LabelRules
from decayguard.store import LabelIngestResult, LabelRecord, ingest_labels
from decayguard.store.schema import labels as label_table
from decayguard.store.schema import predictions

__all__ = [
    "LabelColumns",
    "LabelImportReport",
    "import_labels",
    "label_records_from_frame",
    "label_records_from_rows",
    "read_label_file",
    "storable_text",
]

_MAX_LISTED_ERRORS = 5


@dataclass(frozen=True, slots=True)
class LabelColumns:
    """Which columns of a delivery hold what.

    ``value`` is the label column (the model's ``target``); ``entity_key`` the entity
    column (the model's ``entity_key``). ``value_aliases`` are also accepted for the label.
    """

    value: str = "label"
    prediction_id: str = "prediction_id"
    entity_key: str = "entity_key"
    event_time: str = "event_time"
    model_name: str = "model_name"
    value_aliases: tuple[str, ...] = ("label", "value")

    @classmethod
    def for_model(cls, target: str, entity_key: str | None) -> LabelColumns:
        """The columns a project's ``model`` settings imply."""
        return cls(value=target, entity_key=entity_key or "entity_key")


@dataclass(slots=True)
class LabelImportReport:
    """What happened to each delivered label; nothing is dropped silently."""

    received: int = 0
    inserted: int = 0
    corrected: int = 0
    duplicates: list[str] = field(default_factory=list)
    """Label keys re-delivered with the value already stored (idempotent no-ops)."""
    repeated_in_delivery: list[str] = field(default_factory=list)
    """Label keys given more than once in this delivery (the last one counts)."""
    unknown_prediction_ids: list[str] = field(default_factory=list)
    """Prediction ids the store does not know: not stored."""
    unmatched_entity_labels: list[str] = field(default_factory=list)
    """Entity-keyed labels with no prediction for the entity at or before the event time
    yet: stored, and joined once such a prediction is logged."""

    @classmethod
    def combine(
        cls,
        received: int,
        ingest: LabelIngestResult,
        repeated: list[str],
        unmatched: list[str],
    ) -> LabelImportReport:
        return cls(
            received=received,
            inserted=ingest.inserted,
            corrected=ingest.corrected,
            duplicates=list(ingest.duplicates),
            repeated_in_delivery=repeated,
            unknown_prediction_ids=list(ingest.unknown_prediction_ids),
            unmatched_entity_labels=unmatched,
        )

    @property
    def stored(self) -> int:
        """Labels written (new or corrections)."""
        return self.inserted + self.corrected

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stored": self.stored}


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _text(value: Any) -> str:
    """An id as text, unchanged apart from surrounding blanks."""
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _text(value.item())
    return str(value).strip()


_INTEGRAL_FLOAT = re.compile(r"-?\d+\.0+")


def _value_text(value: Any) -> str:
    """A label or entity key as text: ``1``, ``1.0``, ``"1.0"`` and ``"1"`` are the same
    (integers that went through a float column, as CSV exports often do)."""
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = _text(value)
    if _INTEGRAL_FLOAT.fullmatch(text):
        return text.split(".", 1)[0]
    return text


def _timestamp(value: Any, where: str) -> datetime:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputValidationError(where, f"not a timestamp: {value!r}") from exc
    if pd.isna(ts):
        raise InputValidationError(where, "missing timestamp")
    stamp = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
    result: datetime = stamp.to_pydatetime()
    return result


def storable_text(text: str, field: str, column: sa.Column[Any]) -> str:
    """``text`` if the store can hold it in ``column``; else an error naming ``field``.

    PostgreSQL refuses NUL characters and over-long values with a database error; they
    are input errors, so they are caught here, with the field, on every backend.
    """
    if "\x00" in text:
        raise InputValidationError(field, "contains a NUL character")
    limit = getattr(column.type, "length", None)
    if limit is not None and len(text) > limit:
        raise InputValidationError(field, f"longer than {limit} characters")
    return text


def _record(
    row: Mapping[str, Any],
    where: str,
    columns: LabelColumns,
    default_model: str,
    source: str,
    rules: LabelRules | None,
) -> LabelRecord:
    value_column = next(
        (c for c in (columns.value, *columns.value_aliases) if c in row),
        columns.value,
    )
    raw = row.get(value_column)
    if _is_missing(raw) or _text(raw) == "":
        raise InputValidationError(f"{where}.{columns.value}", "the label value is missing")
    value_field = f"{where}.{columns.value}"
    value = _value_text(raw)
    if rules is not None:
        value = rules.check(value, value_field)
    value = storable_text(value, value_field, label_table.c.value)
    model_raw = row.get(columns.model_name)
    model = storable_text(
        default_model if _is_missing(model_raw) else _text(model_raw),
        f"{where}.{columns.model_name}",
        label_table.c.model_name,
    )
    source = storable_text(source, "source", label_table.c.source)
    pid = row.get(columns.prediction_id)
    entity = row.get(columns.entity_key)
    event_time = row.get(columns.event_time)
    if not _is_missing(pid) and _text(pid) != "":
        field = f"{where}.{columns.prediction_id}"
        prediction_id = storable_text(_text(pid), field, label_table.c.prediction_id)
        return LabelRecord(
            model_name=model, value=value, prediction_id=prediction_id, source=source
        )
    if _is_missing(entity) or _text(entity) == "":
        raise InputValidationError(
            f"{where}.{columns.prediction_id}",
            f"a label needs {columns.prediction_id!r}, or {columns.entity_key!r} "
            f"and {columns.event_time!r}",
        )
    if _is_missing(event_time):
        raise InputValidationError(
            f"{where}.{columns.event_time}",
            f"a label keyed by {columns.entity_key!r} needs {columns.event_time!r}",
        )
    entity_key = storable_text(
        _value_text(entity), f"{where}.{columns.entity_key}", label_table.c.entity_key
    )
    return LabelRecord(
        model_name=model,
        value=value,
        entity_key=entity_key,
        event_time=_timestamp(event_time, f"{where}.{columns.event_time}"),
        source=source,
    )


def label_records_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    model_name: str,
    columns: LabelColumns | None = None,
    source: str = "python",
    where: str = "row {index}",
    rules: LabelRules | None = None,
) -> list[LabelRecord]:
    """Validate rows into label records; raises :class:`InputValidationError` naming the
    first bad rows (``row 3.default: the label value is missing``) and stores nothing.

    ``where`` locates a row in messages (``{index}``: 0-based, ``{line}``: the CSV line);
    ``rules`` (when given) check and normalise each label for the model's task: a
    regression label must be a finite number, a classifier's one of its known classes.

        >>> cols = LabelColumns.for_model(target="default", entity_key="applicant_id")
        >>> [r.key for r in label_records_from_rows(
        ...     [{"prediction_id": "req-1", "default": 1},
        ...      {"applicant_id": 42, "event_time": "2026-12-01", "default": "0"}],
        ...     model_name="credit-default", columns=cols)]
        ['p:req-1', 'e:42@2026-12-01T00:00:00+00:00']
        >>> label_records_from_rows([{"prediction_id": "req-1"}], model_name="m", columns=cols)
        Traceback (most recent call last):
        ...
        decayguard.errors.InputValidationError: input 'row 0.default': the label value is missing
    """
    cols = columns or LabelColumns()
    records: list[LabelRecord] = []
    errors: list[InputValidationError] = []
    for i, row in enumerate(rows):
        try:
            at = where.format(index=i, line=i + 2)
            records.append(_record(row, at, cols, model_name, source, rules))
        except InputValidationError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        first = errors[0]
        listed = "; ".join(str(e) for e in errors[1:_MAX_LISTED_ERRORS])
        unlisted = "; ..." if len(errors) > _MAX_LISTED_ERRORS else ""
        message = str(first).removeprefix(f"input {first.field!r}: ")
        raise InputValidationError(
            first.field, f"{message} (and {len(errors) - 1} more: {listed}{unlisted})"
        )
    return records


def label_records_from_frame(
    frame: pd.DataFrame,
    *,
    model_name: str,
    columns: LabelColumns | None = None,
    source: str = "python",
    where: str = "row {index}",
    rules: LabelRules | None = None,
) -> list[LabelRecord]:
    """Label records from a data frame (one row per label); see :func:`label_records_from_rows`."""
    cols = columns or LabelColumns()
    usable = {cols.value, *cols.value_aliases, cols.prediction_id, cols.entity_key}
    if not usable & set(map(str, frame.columns)):
        raise InputValidationError(
            cols.value,
            f"no label columns found; expected {cols.value!r} with {cols.prediction_id!r} "
            f"or with {cols.entity_key!r} and {cols.event_time!r} (got {list(frame.columns)})",
        )
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return label_records_from_rows(
        [{str(k): v for k, v in r.items()} for r in rows],
        model_name=model_name,
        columns=cols,
        source=source,
        where=where,
        rules=rules,
    )


def read_label_file(
    path: str | Path,
    *,
    model_name: str,
    columns: LabelColumns | None = None,
    rules: LabelRules | None = None,
) -> list[LabelRecord]:
    """Read a CSV or Parquet file of labels (by suffix). Errors name the file and row."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            # Everything as text: ids stay ids ("007"), labels stay "1" rather than 1.0.
            frame = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            raise InputValidationError(
                "file", f"{p}: unsupported label file type {suffix!r} (use .csv or .parquet)"
            )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputValidationError("file", f"{p}: cannot read labels: {exc}") from exc
    escaped = str(p).replace("{", "{{").replace("}", "}}")
    return label_records_from_frame(
        frame,
        model_name=model_name,
        columns=columns,
        source=f"file:{p.name}",
        where=f"{escaped}: line {{line}}" if suffix == ".csv" else f"{escaped}: row {{index}}",
        rules=rules,
    )


def _unmatched_entity_labels(engine: Engine, records: Sequence[LabelRecord]) -> list[str]:
    """Entity-keyed labels with no prediction for that entity at or before their time."""
    by_entity = [r for r in records if r.prediction_id is None]
    if not by_entity:
        return []
    earliest: dict[tuple[str, str], datetime] = {}
    with engine.connect() as conn:
        for model in {r.model_name for r in by_entity}:
            keys = sorted({str(r.entity_key) for r in by_entity if r.model_name == model})
            for i in range(0, len(keys), 500):
                query = (
                    sa.select(predictions.c.entity_key, sa.func.min(predictions.c.ts))
                    .where(predictions.c.model_name == model)
                    .where(predictions.c.entity_key.in_(keys[i : i + 500]))
                    .group_by(predictions.c.entity_key)
                )
                for entity, first_ts in conn.execute(query):
                    earliest[(model, entity)] = first_ts
    unmatched = []
    for r in by_entity:
        first = earliest.get((r.model_name, str(r.entity_key)))
        assert r.event_time is not None
        if first is None or first > r.event_time:
            unmatched.append(r.key)
    return list(dict.fromkeys(unmatched))


def import_labels(engine: Engine, records: Sequence[LabelRecord]) -> LabelImportReport:
    """Store a delivery of labels and report what happened to each one.

    Labels for unknown prediction ids are not stored (reported back); labels keyed by
    entity and event time are always stored, and reported when no prediction matches
    them yet.
    """
    counts = Counter((r.model_name, r.key) for r in records)
    repeated = sorted(key for (_, key), n in counts.items() if n > 1)
    result = ingest_labels(engine, records)
    unmatched = _unmatched_entity_labels(engine, records)
    return LabelImportReport.combine(len(records), result, repeated, unmatched)
