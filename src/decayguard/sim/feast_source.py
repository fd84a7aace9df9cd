"""The simulator's features as a Feast offline source: ``data/applicant_features.parquet``.

The file backs the feature view ``applicant_features`` (entity ``applicant_id``,
timestamp ``event_timestamp``, created timestamp ``created``) of the project's
feature repository, so training sets for retraining are built by Feast's
point-in-time join rather than by the simulator.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from decayguard.errors import InputValidationError
from decayguard.sim.population import CATEGORICAL_FEATURES, NUMERIC_FEATURES

FEATURE_HISTORY_FILE = Path("data") / "applicant_features.parquet"
"""Where the feature history lives, relative to the feature repository."""

FEATURE_HISTORY_SCHEMA = pa.schema(
    [
        pa.field("applicant_id", pa.int64(), nullable=False),
        pa.field("event_timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        *(pa.field(name, pa.float64()) for name in NUMERIC_FEATURES),
        *(pa.field(name, pa.string()) for name in CATEGORICAL_FEATURES),
        pa.field("created", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""Arrow schema of the feature history file."""


def write_feature_history(history: pd.DataFrame, path: Path | str) -> Path:
    """Write ``history`` (see :meth:`Simulation.feature_history`) to the parquet file ``path``
    with :data:`FEATURE_HISTORY_SCHEMA`, replacing it atomically; returns the path."""
    missing = [c for c in FEATURE_HISTORY_SCHEMA.names if c not in history.columns]
    if missing:
        raise InputValidationError(missing[0], "column missing from the feature history")
    table = pa.Table.from_pandas(
        history[list(FEATURE_HISTORY_SCHEMA.names)],
        schema=FEATURE_HISTORY_SCHEMA,
        preserve_index=False,
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    pq.write_table(table, partial)
    partial.replace(target)
    return target
