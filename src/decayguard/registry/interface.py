"""The model registry behind one small interface: MLflow in production, a twin in unit tests.

A registered version's files are decayguard's own hash-pinned export (see
:func:`decayguard.registry.export_model`), never a pickle-based MLflow flavor. Registration is
one call, :meth:`ModelRegistry.register`: the registry opens a run, allocates the version
number, asks the caller to export the model *for that version* into a folder, stores the
folder, the run's parameters, metrics, lineage and input datasets, and only then sets the
alias. An alias therefore never points at a half-registered version.

Aliases have no history in MLflow (mlflow#2169): the release history lives in the store.

This module is importable in the serving environment; :mod:`decayguard.registry.mlflow_registry`
(control environment only) imports MLflow lazily.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from decayguard.config import DecayguardConfig
from decayguard.errors import ArtifactError
from decayguard.registry.manifest import ArtifactManifest

CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"

# Tags decayguard writes on every version (and reads back).
TAG_SHA256 = "decayguard.sha256"
TAG_LINEAGE_HASH = "decayguard.lineage_hash"
TAG_TRIGGER = "decayguard.trigger"
TAG_PARENT = "decayguard.parent_version"
TAG_STATUS = "decayguard.status"  # registering | ready | failed

Exporter = Callable[[str], Path]
"""Called with the allocated version; writes the export for it and returns its folder."""


@dataclass(frozen=True)
class DatasetInput:
    """A dataset a run used (``mlflow.log_input``): the training set or the holdout."""

    name: str
    digest: str
    """The lineage hash (SHA-256 of the frame)."""
    context: str
    """``training`` or ``holdout``."""
    frame: pd.DataFrame
    """The rows (MLflow records its schema and profile, not the data)."""
    source: str = ""
    """Where the frame can be found again (a saved-dataset path or description)."""


@dataclass(frozen=True)
class RunRecord:
    """Everything one retraining run logs alongside the version it registers."""

    run_name: str
    params: Mapping[str, str | int | float | bool | None] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the run *and* of the model version (TAG_* keys among them)."""
    lineage: Mapping[str, Any] = field(default_factory=dict)
    """Logged as the run's ``lineage.json`` artifact."""
    datasets: tuple[DatasetInput, ...] = ()


@dataclass(frozen=True)
class ModelVersionRecord:
    """One registered version as the registry reports it."""

    model_name: str
    version: str
    aliases: tuple[str, ...]
    run_id: str | None
    source: str
    tags: Mapping[str, str]
    created_at: datetime
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def sha256(self) -> str | None:
        return self.tags.get(TAG_SHA256)

    @property
    def lineage_hash(self) -> str | None:
        return self.tags.get(TAG_LINEAGE_HASH)

    @property
    def trigger(self) -> str | None:
        return self.tags.get(TAG_TRIGGER)

    @property
    def status(self) -> str:
        return self.tags.get(TAG_STATUS, "ready")


class ModelRegistry(Protocol):
    """What decayguard needs from a model registry."""

    def register(
        self, model_name: str, export: Exporter, run: RunRecord, *, alias: str | None
    ) -> ModelVersionRecord:
        """Open a run, allocate a version, call ``export(version)``, store the folder and
        the run's record, tag the version ``ready`` and set ``alias`` (if any). When
        ``export`` raises, the version is tagged ``failed``, gets no alias, and the error
        propagates."""
        ...

    def get(self, model_name: str, version: str) -> ModelVersionRecord:
        """A version; :class:`ArtifactError` when there is none."""
        ...

    def by_alias(self, model_name: str, alias: str) -> ModelVersionRecord | None:
        """The version an alias points at, or ``None``."""
        ...

    def versions(self, model_name: str) -> list[ModelVersionRecord]:
        """Every version, oldest first."""
        ...

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (moving it from any other)."""
        ...

    def delete_alias(self, model_name: str, alias: str) -> None:
        """Remove ``alias`` (no error when it is not set)."""
        ...

    def lineage(self, model_name: str, version: str) -> dict[str, Any]:
        """The ``lineage.json`` logged with the version's run."""
        ...

    def set_version_tag(self, model_name: str, version: str, key: str, value: str) -> None:
        """Tag a version (for example ``gate=passed``)."""
        ...

    def log_report(
        self,
        model_name: str,
        version: str,
        name: str,
        report: Mapping[str, Any],
        metrics: Mapping[str, float],
    ) -> None:
        """Attach a JSON report (artifact ``name``, e.g. ``gate.json``) and metrics to the
        version's run."""
        ...

    def download(self, model_name: str, version: str, dest: Path) -> Path:
        """Copy the version's exported folder to ``dest`` and return it."""
        ...


def registry_for(cfg: DecayguardConfig, registry: ModelRegistry | None = None) -> ModelRegistry:
    """``registry``, or the project's MLflow registry (``registry.*``; MLflow is imported
    only here, so the serving environment never needs it)."""
    if registry is not None:
        return registry
    from decayguard.registry.mlflow_registry import registry_from_config

    return registry_from_config(cfg)


class InMemoryRegistry:
    """A :class:`ModelRegistry` twin for unit tests: versions in a dict, folders copied to
    ``root`` (a temporary folder)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._versions: dict[str, list[ModelVersionRecord]] = {}
        self._aliases: dict[tuple[str, str], str] = {}
        self._lineage: dict[tuple[str, str], dict[str, Any]] = {}
        self.reports: dict[tuple[str, str, str], dict[str, Any]] = {}
        """Reports attached with :meth:`log_report`, by (model, version, name)."""
        self._lock = threading.Lock()

    def register(
        self, model_name: str, export: Exporter, run: RunRecord, *, alias: str | None
    ) -> ModelVersionRecord:
        with self._lock:
            versions = self._versions.setdefault(model_name, [])
            version = str(len(versions) + 1)
            record = ModelVersionRecord(
                model_name=model_name,
                version=version,
                aliases=(),
                run_id=f"run-{model_name}-{version}",
                source=str(self.root / model_name / version),
                tags={**run.tags, TAG_STATUS: "registering"},
                created_at=datetime.now(UTC),
                params={k: str(v) for k, v in run.params.items()},
                metrics=dict(run.metrics),
            )
            versions.append(record)
        try:
            folder = export(version)
            target = Path(record.source)
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(folder, target)
            sha256 = ArtifactManifest.read(target).sha256
        except BaseException:
            self._retag(model_name, version, TAG_STATUS, "failed")
            raise
        self._lineage[(model_name, version)] = dict(run.lineage)
        self._retag(model_name, version, TAG_SHA256, sha256)
        self._retag(model_name, version, TAG_STATUS, "ready")
        if alias is not None:
            self.set_alias(model_name, alias, version)
        return self.get(model_name, version)

    def _retag(self, model_name: str, version: str, key: str, value: str) -> None:
        with self._lock:
            versions = self._versions[model_name]
            i = int(version) - 1
            versions[i] = replace(versions[i], tags={**versions[i].tags, key: value})

    def get(self, model_name: str, version: str) -> ModelVersionRecord:
        versions = self._versions.get(model_name, [])
        if not version.isdigit() or not 0 < int(version) <= len(versions):
            raise ArtifactError(f"model {model_name!r} has no registered version {version!r}")
        record = versions[int(version) - 1]
        aliases = tuple(
            sorted(a for (m, a), v in self._aliases.items() if m == model_name and v == version)
        )
        return replace(record, aliases=aliases)

    def by_alias(self, model_name: str, alias: str) -> ModelVersionRecord | None:
        version = self._aliases.get((model_name, alias))
        return None if version is None else self.get(model_name, version)

    def versions(self, model_name: str) -> list[ModelVersionRecord]:
        return [self.get(model_name, r.version) for r in self._versions.get(model_name, [])]

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        self.get(model_name, version)
        self._aliases[(model_name, alias)] = version

    def delete_alias(self, model_name: str, alias: str) -> None:
        self._aliases.pop((model_name, alias), None)

    def lineage(self, model_name: str, version: str) -> dict[str, Any]:
        self.get(model_name, version)
        return dict(self._lineage.get((model_name, version), {}))

    def set_version_tag(self, model_name: str, version: str, key: str, value: str) -> None:
        self.get(model_name, version)
        self._retag(model_name, version, key, value)

    def log_report(
        self,
        model_name: str,
        version: str,
        name: str,
        report: Mapping[str, Any],
        metrics: Mapping[str, float],
    ) -> None:
        self.get(model_name, version)
        self.reports[(model_name, version, name)] = dict(report)
        with self._lock:
            versions = self._versions[model_name]
            i = int(version) - 1
            versions[i] = replace(versions[i], metrics={**versions[i].metrics, **metrics})

    def download(self, model_name: str, version: str, dest: Path) -> Path:
        source = Path(self.get(model_name, version).source)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source, dest)
        return dest
