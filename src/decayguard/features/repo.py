"""A decayguard project's Feast feature repo: apply, materialize, training sets, online lookups.

Feast is imported when a method first needs it, never at import time (the serving environment
has no Feast). ``apply`` runs Feast's own ``feast apply``; the rest uses Feast's Python API in
process, with usage telemetry off.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from decayguard.config import DecayguardConfig
from decayguard.errors import ArtifactError, ConfigError, InputValidationError, ServiceError
from decayguard.features._feast import import_feast, run_feast
from decayguard.features.joins import PointInTimeSet, attach_features, validate_labels
from decayguard.features.lineage import (
    TrainingSetLineage,
    definition_sha256,
    file_sha256,
    frame_sha256,
)
from decayguard.features.store_yaml import FEATURE_STORE_YAML, write_feature_store_yaml
from decayguard.features.windows import (
    TIME_COLUMN,
    AllHistory,
    DataWindow,
    window_from_config,
    window_from_description,
)
from decayguard.store.schema import as_utc

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore, FeatureView

TRAINING_SETS_DIR = "data/training_sets"


@dataclass(frozen=True)
class ServiceSchema:
    """What a feature service reads: join keys, features and where they come from."""

    name: str
    keys: list[str]
    integer_keys: list[str]
    feature_names: list[str]
    feature_refs: list[str]
    version: str
    view_versions: dict[str, int | None]
    sources: dict[str, str]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@contextlib.contextmanager
def _plain_stdout() -> Iterator[None]:
    """Feast colours what it prints; off a terminal (a pipe, a log) print it plain."""
    if sys.stdout.isatty():
        yield
        return
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        sys.stdout.write(_ANSI.sub("", buffer.getvalue()))


class FeatureRepo:
    """The Feast feature repo at ``path`` (holding ``feature_store.yaml``).

    ``feature_service`` is the service training sets and online lookups read by default.
    Online lookups reuse a feature service's definition for ``service_cache_seconds`` (the
    way ``feast serve`` reuses its registry); training sets always read the registry.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        feature_service: str | None = None,
        service_cache_seconds: float = 60.0,
    ) -> None:
        self.path = Path(path).resolve()
        self.feature_service = feature_service
        self.service_cache_seconds = service_cache_seconds
        self._store: FeatureStore | None = None
        self._services: dict[str, tuple[float, FeatureService]] = {}

    @classmethod
    def from_config(cls, cfg: DecayguardConfig, *, sync_yaml: bool = True) -> FeatureRepo:
        """The project's repo; ``sync_yaml`` first rewrites feature_store.yaml from config."""
        path = cfg.path(cfg.features.repo_path)
        if not path.is_dir():
            raise ConfigError(
                f"features.repo_path: {path} is not a folder (run `decayguard init` to create it)"
            )
        if sync_yaml:
            write_feature_store_yaml(path, cfg.features, cfg.project.name)
        return cls(path, feature_service=cfg.features.feature_service)

    # -- Feast objects ---------------------------------------------------------------------

    @property
    def store(self) -> FeatureStore:
        """Feast's FeatureStore over this repo (created on first use)."""
        if self._store is None:
            if not (self.path / FEATURE_STORE_YAML).exists():
                raise ConfigError(f"{self.path / FEATURE_STORE_YAML}: missing")
            feast = import_feast()
            try:
                self._store = feast.FeatureStore(repo_path=str(self.path))
            except Exception as exc:  # Feast raises many types for a bad yaml
                raise ConfigError(f"{self.path / FEATURE_STORE_YAML}: {exc}") from exc
        return self._store

    @property
    def project(self) -> str:
        """The Feast project name."""
        return str(self.store.project)

    def service(self, name: str | None = None, *, cached: bool = False) -> FeatureService:
        """The Feast feature service ``name`` (default: this repo's).

        ``cached`` reads it from Feast's registry cache (refreshed by :meth:`apply` and every
        ``cache_ttl_seconds``) instead of the registry itself: what online lookups want.
        """
        name = name or self.feature_service
        if name is None:
            raise ConfigError("features.feature_service: no feature service configured")
        if cached:
            fetched_at, service = self._services.get(name, (-math.inf, None))
            if service is not None and time.monotonic() - fetched_at < self.service_cache_seconds:
                return service
        try:
            service = self.store.get_feature_service(name, allow_cache=cached)
        except Exception as exc:
            if type(exc).__name__ == "FeatureServiceNotFoundException":
                raise ConfigError(
                    f"feature service {name!r} is not in the registry of {self.path} "
                    "(run `decayguard features apply`)"
                ) from exc
            raise ServiceError(f"Feast registry of {self.path}: {exc}") from exc
        self._services[name] = (time.monotonic(), service)
        return service

    def schema(self, name: str | None = None) -> ServiceSchema:
        """Join keys, features, definition version and sources of a feature service."""
        service = self.service(name)
        views = [self.store.get_feature_view(p.name) for p in service.feature_view_projections]
        keys: list[str] = []
        integer_keys: list[str] = []
        for view in views:
            for column in view.entity_columns:
                if column.name not in keys:
                    keys.append(column.name)
                    if str(column.dtype) in ("Int64", "Int32"):
                        integer_keys.append(column.name)
        refs = [f"{p.name}:{f.name}" for p in service.feature_view_projections for f in p.features]
        definition = {
            "service": service.name,
            "projections": [
                {"view": p.name, "features": [[f.name, str(f.dtype)] for f in p.features]}
                for p in service.feature_view_projections
            ],
            "views": [_view_definition(view) for view in views],
        }
        return ServiceSchema(
            name=service.name,
            keys=keys,
            integer_keys=integer_keys,
            feature_names=[ref.split(":", 1)[1] for ref in refs],
            feature_refs=refs,
            version=definition_sha256(definition)[:16],
            view_versions={view.name: self._view_version(view.name) for view in views},
            sources={_source_uri(view): self._source_sha256(view) for view in views},
        )

    def _view_version(self, name: str) -> int | None:
        versions = self.store.list_feature_view_versions(name)
        numbers = [v["version_number"] for v in versions if v.get("version_number") is not None]
        return max(numbers) if numbers else None

    def _source_sha256(self, view: FeatureView) -> str:
        uri = _source_uri(view)
        path = Path(uri) if Path(uri).is_absolute() else self.path / uri
        if "://" in uri or not path.is_file():
            return ""
        return file_sha256(path)

    # -- Feast operations ------------------------------------------------------------------

    def apply(self) -> str:
        """Register the repo's definitions with ``feast apply``; returns Feast's output."""
        output = run_feast(self.path, ["apply"])
        self._services.clear()
        if self._store is not None:
            store: Any = self._store  # Feast leaves this method unannotated
            store.refresh_registry()
        return output

    def materialize(self, end: datetime | None = None, start: datetime | None = None) -> datetime:
        """Load feature values up to ``end`` (default now) into the online store.

        Without ``start`` this is Feast's incremental materialization (from where the last
        one stopped); with ``start`` it reloads ``[start, end]``. Returns ``end``.
        """
        end = as_utc(end or datetime.now(UTC))
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Discarding nonzero nanoseconds")
                self._materialize(end, start)
        except (ConfigError, InputValidationError):
            raise
        except Exception as exc:
            raise ServiceError(f"materialization of {self.path} failed: {exc}") from exc
        return end

    def _materialize(self, end: datetime, start: datetime | None) -> None:
        with _plain_stdout():
            if start is None:
                self.store.materialize_incremental(end_date=end)
            else:
                self.store.materialize(start_date=as_utc(start), end_date=end)

    def online_features(
        self, entity_rows: Sequence[Mapping[str, Any]], *, feature_service: str | None = None
    ) -> dict[str, list[Any]]:
        """Latest materialized feature values, one list per column, in ``entity_rows`` order."""
        if not entity_rows:
            raise InputValidationError("entity_rows", "at least one entity row is needed")
        service = self.service(feature_service, cached=True)
        try:
            response = self.store.get_online_features(
                features=service, entity_rows=[dict(row) for row in entity_rows]
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InputValidationError("entity_rows", f"online lookup failed: {exc}") from exc
        except Exception as exc:
            raise ServiceError(f"online store of {self.path}: {exc}") from exc
        return dict(response.to_dict())

    def teardown(self) -> None:
        """Remove the online store's tables (or keys) of this project (Feast ``teardown``)."""
        store: Any = self.store  # Feast leaves this method unannotated
        store.teardown()

    # -- Training sets ---------------------------------------------------------------------

    def training_set(
        self,
        labels: pd.DataFrame,
        *,
        window: DataWindow | None = None,
        end: datetime | None = None,
        time_column: str = TIME_COLUMN,
        feature_service: str | None = None,
        save: bool = True,
    ) -> PointInTimeSet:
        """A point-in-time-correct training frame for ``labels`` and its lineage record.

        ``labels`` has the entity key(s), the label time and any label columns. Only labels
        that ``window`` admits as of ``end`` (default now) are used; each gets the feature
        values known at its time (never later ones), or nulls. With ``save`` the frame is
        stored as a Feast saved dataset under ``data/training_sets/`` of the repo.
        """
        window = window or AllHistory()
        end = as_utc(end or datetime.now(UTC))
        schema = self.schema(feature_service)
        prepared = validate_labels(
            labels,
            keys=schema.keys,
            time_column=time_column,
            feature_names=schema.feature_names,
            integer_keys=schema.integer_keys,
        )
        selection = window.select(prepared, end=end)
        if selection.labels.empty:
            raise InputValidationError(
                "labels", f"no label falls inside the window ({_describe_bounds(selection)})"
            )
        frame = attach_features(
            selection.labels,
            lambda pairs: self._historical(pairs, schema),
            keys=schema.keys,
            feature_names=schema.feature_names,
        )
        created = datetime.now(UTC)
        digest = frame_sha256(frame)
        saved_name = saved_path = None
        if save:
            saved_name, saved_path = self._save(frame, schema, digest, created)
        times = frame[TIME_COLUMN]
        lineage = TrainingSetLineage(
            frame_sha256=digest,
            rows=len(frame),
            columns=[str(c) for c in frame.columns],
            feast_project=self.project,
            feature_service=schema.name,
            feature_service_version=schema.version,
            feature_view_versions=schema.view_versions,
            features=schema.feature_refs,
            window=window.describe(),
            window_start=None if selection.start is None else selection.start.isoformat(),
            window_end=selection.end.isoformat(),
            min_event_timestamp=times.min().isoformat(),
            max_event_timestamp=times.max().isoformat(),
            rows_without_features=int(frame[schema.feature_names].isna().all(axis=1).sum()),
            labels_sha256=frame_sha256(selection.labels),
            sources=schema.sources,
            saved_dataset=saved_name,
            saved_dataset_path=saved_path,
            created_at=created.isoformat(),
            feast_version=str(import_feast().__version__),
        )
        return PointInTimeSet(frame=frame, lineage=lineage)

    def _historical(self, pairs: pd.DataFrame, schema: ServiceSchema) -> pd.DataFrame:
        service = self.service(schema.name)
        try:
            with warnings.catch_warnings():
                # Dask's min/max metadata drops nanoseconds; the join itself keeps them.
                warnings.filterwarnings("ignore", "Discarding nonzero nanoseconds")
                job = self.store.get_historical_features(
                    entity_df=pairs, features=service, filter_by_created_timestamp=True
                )
                return job.to_df()
        except Exception as exc:
            raise ServiceError(f"historical retrieval from {self.path} failed: {exc}") from exc

    def _save(
        self, frame: pd.DataFrame, schema: ServiceSchema, digest: str, created: datetime
    ) -> tuple[str, str]:
        import_feast()
        from feast.infra.offline_stores.file_source import SavedDatasetFileStorage
        from feast.saved_dataset import SavedDataset

        name = f"{schema.name}_{created:%Y%m%dT%H%M%S%f}_{digest[:8]}"
        relative = f"{TRAINING_SETS_DIR}/{name}.parquet"
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(target, index=False)
        dataset = SavedDataset(
            name=name,
            features=schema.feature_refs,
            join_keys=schema.keys,
            storage=SavedDatasetFileStorage(path=relative),
            feature_service_name=schema.name,
            tags={"decayguard.frame_sha256": digest, "decayguard.rows": str(len(frame))},
        )
        # Feast keeps microseconds; it reads the file back with a one-second margin.
        dataset.min_event_timestamp = frame[TIME_COLUMN].min().floor("us").to_pydatetime()
        dataset.max_event_timestamp = frame[TIME_COLUMN].max().ceil("us").to_pydatetime()
        self.store.registry.apply_saved_dataset(dataset, self.project, commit=True)
        return name, relative

    def saved_training_sets(self) -> list[str]:
        """Names of the training sets saved in this repo's Feast registry."""
        return sorted(ds.name for ds in self.store.list_saved_datasets())

    def load_training_set(self, lineage: TrainingSetLineage) -> PointInTimeSet:
        """The saved frame a lineage record points to, checked against its SHA-256."""
        if lineage.saved_dataset is None:
            raise ArtifactError("this training set was not saved (built with save=False)")
        try:
            dataset = self.store.registry.get_saved_dataset(lineage.saved_dataset, self.project)
        except Exception as exc:
            raise ArtifactError(
                f"saved dataset {lineage.saved_dataset!r} is not in the registry of {self.path}"
            ) from exc
        uri = getattr(getattr(dataset.storage, "file_options", None), "uri", None)
        if uri is None:
            raise ArtifactError(f"saved dataset {dataset.name!r} is not stored in a file")
        path = Path(uri)
        path = path if path.is_absolute() else self.path / path
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read saved training set {path}: {exc}") from exc
        digest = frame_sha256(frame)
        if digest != lineage.frame_sha256:
            raise ArtifactError(
                f"{path}: SHA-256 {digest[:16]}… does not match the lineage record's "
                f"{lineage.frame_sha256[:16]}…"
            )
        return PointInTimeSet(frame=frame[lineage.columns], lineage=lineage)

    def reproduce_training_set(
        self, lineage: TrainingSetLineage, labels: pd.DataFrame, *, time_column: str = TIME_COLUMN
    ) -> PointInTimeSet:
        """Rebuild a training set from its labels and lineage record; same hash or an error.

        Uses the recorded feature service, window and as-of time. On a mismatch the
        :class:`ArtifactError` says what changed: the labels, the offline source files, or
        the feature definitions.
        """
        rebuilt = self.training_set(
            labels,
            window=window_from_description(lineage.window),
            end=datetime.fromisoformat(lineage.window_end),
            time_column=time_column,
            feature_service=lineage.feature_service,
            save=False,
        )
        if rebuilt.lineage.frame_sha256 == lineage.frame_sha256:
            return rebuilt
        causes = [
            what
            for what, field in (
                ("the labels", "labels_sha256"),
                ("the offline source files", "sources"),
                ("the feature definitions", "feature_service_version"),
            )
            if getattr(rebuilt.lineage, field) != getattr(lineage, field)
        ]
        raise ArtifactError(
            f"rebuilt training set has SHA-256 {rebuilt.lineage.frame_sha256[:16]}…, the record "
            f"says {lineage.frame_sha256[:16]}…; changed since: "
            f"{', '.join(causes) or 'nothing recorded (Feast or pandas behaviour?)'}"
        )

    def training_set_from_config(
        self, labels: pd.DataFrame, cfg: DecayguardConfig, **kwargs: Any
    ) -> PointInTimeSet:
        """:meth:`training_set` with the window configured in ``features``."""
        return self.training_set(labels, window=window_from_config(cfg.features), **kwargs)


def _view_definition(view: FeatureView) -> dict[str, Any]:
    source = view.batch_source
    if source is None:
        raise ConfigError(f"feature view {view.name!r} has no batch source")
    return {
        "name": view.name,
        "entities": sorted(view.entities),
        "join_keys": [c.name for c in view.entity_columns],
        "features": [[f.name, str(f.dtype)] for f in view.features],
        "ttl_seconds": view.ttl.total_seconds() if view.ttl else None,
        "source": _source_uri(view),
        "timestamp_field": source.timestamp_field,
        "created_timestamp_column": source.created_timestamp_column or None,
        "field_mapping": dict(sorted(source.field_mapping.items())),
    }


def _source_uri(view: FeatureView) -> str:
    source = view.batch_source
    if source is None:
        return ""
    return str(getattr(source, "path", "") or source.name)


def _describe_bounds(selection: Any) -> str:
    start = "beginning" if selection.start is None else selection.start.isoformat()
    return f"from {start} to {selection.end.isoformat()}"


def rows_of(values: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """Column lists (as :meth:`FeatureRepo.online_features` returns) to a list of row dicts."""
    columns = {name: list(column) for name, column in values.items()}
    count = len(next(iter(columns.values()), []))
    return [{name: column[i] for name, column in columns.items()} for i in range(count)]
