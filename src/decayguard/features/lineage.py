"""Data lineage of training sets: what exactly a model learned from, and how two sets differ.

A :class:`TrainingSetLineage` is plain JSON (store it with a model version) holding the
SHA-256 of the training frame, the feature service with its definition version, the time
window, the row count and the Feast saved dataset that holds the frame.

The frame hash is canonical: neither row order nor column order changes it, and equal values
hash equally whatever their in-memory dtype width (``int32``/``int64``, a timestamp in ``us`` or
``ns``, any time zone)::

    >>> import pandas as pd
    >>> a = pd.DataFrame({"id": [1, 2], "x": [0.5, None], "t": ["a", "b"]})
    >>> b = a.iloc[::-1][["t", "x", "id"]].astype({"id": "int32"})
    >>> frame_sha256(a) == frame_sha256(b)
    True
    >>> frame_sha256(a) == frame_sha256(a.assign(x=[0.5, 0.25]))
    False
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

LINEAGE_SCHEMA_VERSION = 1
_NAN = np.float64("nan")


def _canonical_column(series: pd.Series) -> tuple[str, pa.Array]:
    """A column as (type tag, canonical Arrow array); equal values give equal bytes."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool", pa.array(series.to_numpy(dtype="uint8", na_value=2), type=pa.uint8())
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = pd.to_datetime(series, utc=True).dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        ints = values.astype("int64").where(values.notna(), np.iinfo("int64").min)
        return "timestamp_ns_utc", pa.array(ints.to_numpy(dtype="int64"), type=pa.int64())
    if pd.api.types.is_integer_dtype(series.dtype) and not series.isna().any():
        return "int64", pa.array(series.to_numpy(dtype="int64"), type=pa.int64())
    if pd.api.types.is_numeric_dtype(series.dtype):
        floats = series.to_numpy(dtype="float64", na_value=_NAN)
        floats = np.where(np.isnan(floats), _NAN, floats + 0.0)  # one NaN; -0.0 becomes 0.0
        return "float64", pa.array(floats, type=pa.float64())
    text = series.map(lambda v: None if v is None or v is pd.NA or v != v else str(v))
    return "string", pa.array(text.to_list(), type=pa.large_string())


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's content, independent of row order, column order and index."""
    columns = sorted(frame.columns.map(str))
    canonical = {name: _canonical_column(frame[name]) for name in columns}
    table = pa.table({name: array for name, (_, array) in canonical.items()})
    if table.num_rows and columns:
        order = pc.sort_indices(table, sort_keys=[(name, "ascending") for name in columns])
        table = table.take(order)
    digest = hashlib.sha256()
    header = {"rows": table.num_rows, "columns": [[n, canonical[n][0]] for n in columns]}
    digest.update(json.dumps(header, separators=(",", ":")).encode())
    for name in columns:
        column = table.column(name).combine_chunks()
        validity = column.is_valid().to_numpy(zero_copy_only=False)
        digest.update(np.packbits(validity).tobytes())
        for buffer in column.buffers()[1:]:
            if buffer is not None:
                digest.update(buffer)
    return digest.hexdigest()


def definition_sha256(definition: Any) -> str:
    """SHA-256 of a JSON-able definition (feature service plus its feature views)."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class TrainingSetLineage:
    """What a training set was made of; JSON round-trips through :meth:`to_dict`."""

    frame_sha256: str
    """Canonical SHA-256 of the training frame (see :func:`frame_sha256`)."""
    rows: int
    """Number of rows (one per label in the window)."""
    columns: list[str]
    """Columns of the frame, in frame order."""
    feast_project: str
    """Feast project the features came from."""
    feature_service: str
    """Name of the Feast feature service."""
    feature_service_version: str
    """First 16 hex digits of the SHA-256 of the service's definition and its feature views'."""
    feature_view_versions: dict[str, int | None]
    """Feast's own version number of each feature view (registry version history)."""
    features: list[str]
    """Feature references, ``view:feature``."""
    window: dict[str, Any]
    """The data window strategy and its parameters."""
    window_start: str | None
    """Earliest label time admitted (ISO 8601, UTC); ``None``: all history."""
    window_end: str
    """Latest label time admitted (ISO 8601, UTC): the training set's as-of time."""
    min_event_timestamp: str | None
    """Earliest label time actually present."""
    max_event_timestamp: str | None
    """Latest label time actually present."""
    rows_without_features: int
    """Labels for which no feature value existed at (or before, within TTL) their time."""
    labels_sha256: str
    """Canonical SHA-256 of the labels inside the window, before the join."""
    sources: dict[str, str]
    """Offline source URI to the SHA-256 of its file (``""`` when not a local file)."""
    saved_dataset: str | None
    """Name of the Feast saved dataset holding the frame (``None``: not saved)."""
    saved_dataset_path: str | None
    """Path of the saved dataset's parquet file, relative to the feature repo."""
    created_at: str
    """When the training set was built (ISO 8601, UTC)."""
    feast_version: str
    """Feast version that did the point-in-time join."""
    schema_version: int = LINEAGE_SCHEMA_VERSION
    """Version of this record's layout."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form additions (for example the run that built it)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping (for MLflow tags or artifacts, or the audit log)."""
        return asdict(self)

    def to_json(self) -> str:
        """Pretty JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingSetLineage:
        """Rebuild a record from :meth:`to_dict`'s output; unknown keys are rejected."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown lineage field(s): {', '.join(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class LineageComparison:
    """How two training sets differ; :attr:`same_data` is the question usually asked."""

    same_data: bool
    """Both frames have the same content hash."""
    same_features: bool
    """Same feature service at the same definition version."""
    differences: dict[str, tuple[Any, Any]]
    """Every differing field (other than creation time and saved-dataset name): (a, b)."""
    row_delta: int
    """``b.rows - a.rows``."""
    overlap: tuple[str, str] | None
    """Common part of the two label time ranges, or ``None`` when disjoint."""


_IGNORED = frozenset({"created_at", "saved_dataset", "saved_dataset_path", "extra"})


def compare_lineage(a: TrainingSetLineage, b: TrainingSetLineage) -> LineageComparison:
    """Compare two training sets' lineage records."""
    da, db = a.to_dict(), b.to_dict()
    differences = {
        key: (da[key], db[key]) for key in da if key not in _IGNORED and da[key] != db[key]
    }
    return LineageComparison(
        same_data=a.frame_sha256 == b.frame_sha256,
        same_features=(a.feature_service, a.feature_service_version)
        == (b.feature_service, b.feature_service_version),
        differences=differences,
        row_delta=b.rows - a.rows,
        overlap=_overlap(a, b),
    )


def _overlap(a: TrainingSetLineage, b: TrainingSetLineage) -> tuple[str, str] | None:
    if None in (a.min_event_timestamp, a.max_event_timestamp) or None in (
        b.min_event_timestamp,
        b.max_event_timestamp,
    ):
        return None
    start = max(_parse(a.min_event_timestamp), _parse(b.min_event_timestamp))
    end = min(_parse(a.max_event_timestamp), _parse(b.max_event_timestamp))
    return (start.isoformat(), end.isoformat()) if start <= end else None


def _parse(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)
