"""Scaffold the Feast feature repo of a decayguard project (called by ``decayguard init``).

The repo holds one entity (the model's entity key), one feature view over the offline parquet
source and one feature service per model, generated from the model's input schema in
decayguard.yaml; ``feature_store.yaml`` is generated from the ``features`` section. A small,
seeded example source file is written too, so ``decayguard features apply`` and
``materialize`` work straight away; it is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from decayguard.config import DecayguardConfig, FeatureSpec
from decayguard.errors import ConfigError
from decayguard.features.store_yaml import write_feature_store_yaml

DEFINITIONS_FILE = "features.py"
EMPLOYMENT = ("salaried", "self_employed", "unemployed", "retired")
_FEAST_TYPES = {"float": "Float64", "int": "Int64", "category": "String", "bool": "Bool"}

_DEFINITIONS = '''\
"""Feast definitions of the {model} model's features (scaffolded by `decayguard init`).

Edit freely, then run `decayguard features apply`. Paths are relative to this folder.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import {types}

{entity} = Entity(
    name="{entity}",
    join_keys=["{key}"],
    value_type=ValueType.INT64,
    description="The subject of a prediction; the key of every feature row.",
)

{view}_source = FileSource(
    name="{view}_source",
    path="{source}",
    timestamp_field="event_timestamp",{created}
)

{view} = FeatureView(
    name="{view}",
    entities=[{entity}],
    # Point-in-time joins look back at most this far for a feature value.
    ttl=timedelta(days={ttl_days}),
    schema=[
{fields}
    ],
    source={view}_source,
    online=True,
)

# One feature service per model version: training sets and online lookups both read it, so
# training and serving see exactly the same features.
{service} = FeatureService(
    name="{service}",
    features=[{view}],
    description="Features of the {model} model.",
)
'''


def entity_names(entity_key: str) -> tuple[str, str]:
    """The entity and feature view names for an entity key.

    >>> entity_names("applicant_id")
    ('applicant', 'applicant_features')
    """
    entity = entity_key.removesuffix("_id") or entity_key
    return entity, f"{entity}_features"


def render_definitions(cfg: DecayguardConfig, *, ttl_days: int = 365) -> str:
    """The Python source of the feature repo's definitions, from the model's input schema."""
    key = cfg.model.entity_key
    service = cfg.features.feature_service
    if key is None:
        raise ConfigError("model.entity_key: required to scaffold a Feast feature repo")
    if service is None:
        raise ConfigError("features.feature_service: required to scaffold a Feast feature repo")
    if not cfg.model.features:
        raise ConfigError("model.features: the model's input schema is empty")
    entity, view = entity_names(key)
    types = sorted({_FEAST_TYPES[spec.dtype] for spec in cfg.model.features})
    return _DEFINITIONS.format(
        model=cfg.model.name,
        types=", ".join(types),
        entity=entity,
        key=key,
        view=view,
        source=f"../data/{view}.parquet",
        created=_created_line(cfg.features.created_timestamp_column),
        ttl_days=ttl_days,
        fields="\n".join(_field_line(spec) for spec in cfg.model.features),
        service=service,
    )


def _created_line(column: str | None) -> str:
    if column is None:
        return ""
    return (
        "\n    # When each row was written: training rows never see values written after their"
        f'\n    # label\'s time.\n    created_timestamp_column="{column}",'
    )


def _field_line(spec: FeatureSpec) -> str:
    return f'        Field(name="{spec.name}", dtype={_FEAST_TYPES[spec.dtype]}),'


def example_source_frame(
    cfg: DecayguardConfig, *, applicants: int = 500, snapshots: int = 3, end: datetime | None = None
) -> pd.DataFrame:
    """A seeded example of the offline source: a few dated snapshots per entity."""
    key = cfg.model.entity_key or "entity_id"
    end = end or datetime.now(UTC).replace(microsecond=0)
    rng = np.random.default_rng(20261127)
    rows = applicants * snapshots
    ages = rng.uniform(0, 90, rows)
    frame = pd.DataFrame(
        {
            key: np.tile(np.arange(1, applicants + 1, dtype="int64"), snapshots),
            "event_timestamp": [end - timedelta(days=float(a)) for a in ages],
        }
    )
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    if cfg.features.created_timestamp_column is not None:
        lag = pd.to_timedelta(rng.uniform(0, 1, rows), unit="D")
        frame[cfg.features.created_timestamp_column] = frame["event_timestamp"] + lag
    for spec in cfg.model.features:
        frame[spec.name] = _example_column(spec, rng, rows)
    return frame


def _example_column(spec: FeatureSpec, rng: np.random.Generator, rows: int) -> Any:
    demo: dict[str, Callable[[], Any]] = {
        "income": lambda: rng.lognormal(10.8, 0.5, rows).round(2),
        "debt_ratio": lambda: rng.beta(2, 5, rows).round(4),
        "age": lambda: rng.integers(21, 80, rows).astype("float64"),
        "credit_lines": lambda: rng.poisson(4, rows).astype("float64"),
        "utilization": lambda: rng.beta(2, 3, rows).round(4),
        "employment": lambda: rng.choice(EMPLOYMENT, rows, p=[0.6, 0.2, 0.1, 0.1]),
    }
    if spec.name in demo:
        return demo[spec.name]()
    by_type: dict[str, Callable[[], Any]] = {
        "float": lambda: rng.normal(0, 1, rows),
        "int": lambda: rng.integers(0, 100, rows),
        "category": lambda: rng.choice(["a", "b", "c"], rows),
        "bool": lambda: rng.random(rows) < 0.5,
    }
    return by_type[spec.dtype]()


def write_feature_repo(
    folder: Path, cfg: DecayguardConfig, *, force: bool = False, example_data: bool = True
) -> list[Path]:
    """Write the Feast repo of the project in ``folder``; returns the files written.

    ``feature_repo/feature_store.yaml`` (generated from config, always refreshed),
    ``feature_repo/features.py`` (definitions; kept unless ``force``), and, when missing,
    a seeded example offline source ``data/<view>.parquet``.
    """
    repo = folder / cfg.features.repo_path
    repo.mkdir(parents=True, exist_ok=True)
    written = [write_feature_store_yaml(repo, cfg.features, cfg.project.name)]
    definitions = repo / DEFINITIONS_FILE
    if definitions.exists() and not force:
        raise ConfigError(f"{definitions} already exists (use --force to overwrite)")
    definitions.write_text(render_definitions(cfg))
    written.append(definitions)
    (repo / "data").mkdir(exist_ok=True)
    ignore = repo / ".feastignore"
    ignore.write_text("# Files `feast apply` must not import.\ndata/\n")
    written.append(ignore)
    if example_data and cfg.model.entity_key is not None:
        _, view = entity_names(cfg.model.entity_key)
        source = folder / "data" / f"{view}.parquet"
        if not source.exists():
            source.parent.mkdir(parents=True, exist_ok=True)
            example_source_frame(cfg).to_parquet(source, index=False)
            written.append(source)
    return written
