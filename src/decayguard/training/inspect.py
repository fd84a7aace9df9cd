"""What was trained, from what, and can it be rebuilt: the core of ``decayguard models`` and
``decayguard lineage``.

:func:`model_versions` joins the registry's versions with the store's retraining runs and
the serving deployments, so one row says which version serves, which waits as challenger,
why each was trained and how it scored on its holdout. :func:`lineage_of` reads the training
set's lineage record that a retraining logged with its version, and :func:`verify_lineage`
rebuilds that training set from the store (labels as they stood at ``labels_as_of``) and
Feast, and says whether the SHA-256 matches and, when not, what changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.engine import Engine

from decayguard.config import DecayguardConfig
from decayguard.errors import ArtifactError
from decayguard.features.lineage import TrainingSetLineage
from decayguard.features.repo import FeatureRepo
from decayguard.registry.interface import (
    CHALLENGER_ALIAS,
    TAG_PARENT,
    ModelRegistry,
    ModelVersionRecord,
    registry_for,
)
from decayguard.store import create_store_engine, ensure_schema
from decayguard.store.deployments import active_version
from decayguard.store.training_runs import training_history

Stage = Literal["serving champion", "serving challenger", "challenger", "registered", "failed"]

TRAINING_RUN_KEY = "training_run"
"""The key ``retrain_once`` adds to the logged lineage record (the store's run id)."""
TAG_TRAINING_RUN = "decayguard.training_run"
TAG_REASON = "decayguard.reason"
HOLDOUT_PREFIX = "holdout_"
CHAMPION_HOLDOUT_PREFIX = "champion_holdout_"
LABEL_COUNT_PREFIX = "label_count."


@dataclass(frozen=True)
class VersionSummary:
    """One registered version, as a person asks about it."""

    version: str
    aliases: tuple[str, ...]
    """Registry aliases pointing at it (``champion``, ``challenger``)."""
    stage: Stage
    """``serving champion`` / ``serving challenger``: the store's active deployments;
    ``challenger``: waiting for the gate; ``failed``: registration failed; else
    ``registered``."""
    trigger: str | None
    """``manual``, ``schedule``, ``decay``, or ``imported`` (a champion deployed before the
    registry knew it)."""
    reason: str | None
    created_at: datetime
    metrics: dict[str, float] = field(default_factory=dict)
    """Realized metrics on its retraining's holdout."""
    champion_metrics: dict[str, float] = field(default_factory=dict)
    """The champion of the time, on the same holdout rows."""
    training_rows: int | None = None
    holdout_rows: int | None = None
    label_counts: dict[str, int] = field(default_factory=dict)
    """Training rows per class (``{"rows": n}`` for regression)."""
    lineage_hash: str | None = None
    sha256: str | None = None
    """The exported artifact's pinned SHA-256."""
    parent_version: str | None = None
    training_run: str | None = None
    """The store's retraining run id (``None`` for an imported version)."""
    as_of: datetime | None = None
    """The retraining's clock."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["as_of"] = None if self.as_of is None else self.as_of.isoformat()
        data["aliases"] = list(self.aliases)
        return data


@dataclass(frozen=True)
class LineageCheck:
    """The outcome of rebuilding a version's training set."""

    version: str
    recorded_sha256: str
    same: bool
    rebuilt_sha256: str | None = None
    """``None`` when the rebuild did not get as far as a hash."""
    rows: int | None = None
    """Rows of the rebuilt frame."""
    cause: str | None = None
    """Why the hashes differ (which of labels, offline source files, feature definitions)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _engine(cfg: DecayguardConfig) -> Engine:
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def primary_metric(cfg: DecayguardConfig) -> str:
    """The metric a version is summed up by: the first ``monitoring.performance_thresholds``
    key, else the task's own (accuracy for classifiers, MAE for regression)."""
    from decayguard.monitoring.tasks import BinaryTask, RegressionTask

    thresholds = cfg.monitoring.performance_thresholds
    if thresholds:
        return next(iter(thresholds))
    task = RegressionTask if cfg.model.task == "regression" else BinaryTask
    return task.primary_metric


def _prefixed(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {k[len(prefix) :]: v for k, v in metrics.items() if k.startswith(prefix)}


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "", "None") else int(value)
    except (TypeError, ValueError):
        return None


def _stage(record: ModelVersionRecord, champion: str | None, challenger: str | None) -> Stage:
    if record.status == "failed":
        return "failed"
    if record.version == champion:
        return "serving champion"
    if record.version == challenger:
        return "serving challenger"
    if CHALLENGER_ALIAS in record.aliases:
        return "challenger"
    return "registered"


def summarize_version(
    record: ModelVersionRecord,
    run: dict[str, Any] | None,
    *,
    champion: str | None,
    challenger: str | None,
) -> VersionSummary:
    """One version's summary from its registry record, its store run (if any) and the
    versions the store serves as champion and challenger."""
    params = dict(record.params)
    metrics = {k: float(v) for k, v in record.metrics.items()}
    run = run or {}
    details = run.get("details") or {}
    own = _prefixed(metrics, HOLDOUT_PREFIX) or dict(details.get("metrics") or {})
    theirs = _prefixed(metrics, CHAMPION_HOLDOUT_PREFIX) or dict(
        details.get("champion_metrics") or {}
    )
    reason = run.get("reason") or record.tags.get(TAG_REASON) or params.get("trigger_reason")
    return VersionSummary(
        version=record.version,
        aliases=tuple(record.aliases),
        stage=_stage(record, champion, challenger),
        trigger=record.trigger or run.get("trigger"),
        reason=None if reason in (None, "", "None") else str(reason),
        created_at=record.created_at,
        metrics=own,
        champion_metrics=theirs,
        training_rows=_int(params.get("train_rows")),
        holdout_rows=_int(params.get("holdout_rows")),
        label_counts={
            k[len(LABEL_COUNT_PREFIX) :]: n
            for k, v in sorted(params.items())
            if k.startswith(LABEL_COUNT_PREFIX) and (n := _int(v)) is not None
        },
        lineage_hash=record.lineage_hash or None,
        sha256=record.sha256,
        parent_version=record.tags.get(TAG_PARENT) or run.get("parent_version") or None,
        training_run=record.tags.get(TAG_TRAINING_RUN) or run.get("id"),
        as_of=run.get("as_of"),
    )


@dataclass(frozen=True)
class _StoreView:
    """What the store knows about a model's versions: its retraining runs and deployments."""

    runs: list[dict[str, Any]]
    champion: str | None
    challenger: str | None

    @classmethod
    def read(cls, cfg: DecayguardConfig) -> _StoreView:
        name = cfg.model.name
        engine = _engine(cfg)
        try:
            return cls(
                training_history(engine, name),
                active_version(engine, name),
                active_version(engine, name, role="challenger"),
            )
        finally:
            engine.dispose()

    def summarize(self, record: ModelVersionRecord) -> VersionSummary:
        run_id = record.tags.get(TAG_TRAINING_RUN)
        if run_id:
            run = next((r for r in self.runs if r["id"] == run_id), None)
        else:  # registered by hand or imported: the run that names the version, if any
            run = next((r for r in self.runs if r.get("version") == record.version), None)
        return summarize_version(record, run, champion=self.champion, challenger=self.challenger)


def model_versions(
    cfg: DecayguardConfig, registry: ModelRegistry | None = None
) -> list[VersionSummary]:
    """Every registered version of the project's model, oldest first (see the module doc)."""
    records = registry_for(cfg, registry).versions(cfg.model.name)
    view = _StoreView.read(cfg)
    return [view.summarize(record) for record in records]


def version_summary(
    cfg: DecayguardConfig, version: str, registry: ModelRegistry | None = None
) -> VersionSummary:
    """One version's summary (:class:`ArtifactError` when the registry has no such version)."""
    record = registry_for(cfg, registry).get(cfg.model.name, version)
    return _StoreView.read(cfg).summarize(record)


def unregistered_attempts(cfg: DecayguardConfig, *, last: int = 5) -> list[dict[str, Any]]:
    """The store's most recent retraining runs that registered nothing (failed, waiting for
    labels, skipped, abandoned, running), newest first."""
    engine = _engine(cfg)
    try:
        runs = training_history(engine, cfg.model.name)
    finally:
        engine.dispose()
    return [r for r in reversed(runs) if r["status"] != "registered"][:last]


def lineage_of(
    cfg: DecayguardConfig, version: str, registry: ModelRegistry | None = None
) -> TrainingSetLineage:
    """The training-set lineage logged with ``version``; the store's run id is kept in
    ``extra["training_run"]``. :class:`ArtifactError` when the version has none (an imported
    champion) or the record is unreadable."""
    data = dict(registry_for(cfg, registry).lineage(cfg.model.name, version))
    if not data:
        raise ArtifactError(
            f"{cfg.model.name} version {version} has no training-set lineage: it was not "
            "trained by decayguard (an imported champion?)"
        )
    run_id = data.pop(TRAINING_RUN_KEY, None)
    extra = dict(data.pop("extra", None) or {})
    if run_id is not None:
        extra.setdefault(TRAINING_RUN_KEY, run_id)
    try:
        return TrainingSetLineage.from_dict({**data, "extra": extra})
    except (TypeError, ValueError) as exc:
        raise ArtifactError(
            f"{cfg.model.name} version {version}: its lineage record is not one this version "
            f"of decayguard reads: {exc}"
        ) from exc


def verify_lineage(
    cfg: DecayguardConfig,
    version: str,
    registry: ModelRegistry | None = None,
    repo: FeatureRepo | None = None,
    *,
    lineage: TrainingSetLineage | None = None,
) -> LineageCheck:
    """Rebuild ``version``'s training set from the store and Feast and compare its SHA-256
    with the recorded one. A difference is reported (``same=False`` with the cause), not
    raised; a version without lineage raises :class:`ArtifactError`. ``lineage``: the
    record :func:`lineage_of` returned, when the caller has it already."""
    from decayguard.training.sets import rebuild_point_in_time_set

    lineage = lineage or lineage_of(cfg, version, registry)
    repo = repo or FeatureRepo.from_config(cfg)
    engine = _engine(cfg)
    try:
        rebuilt = rebuild_point_in_time_set(cfg, engine, repo, lineage)
    except ArtifactError as exc:
        return LineageCheck(version, lineage.frame_sha256, False, cause=str(exc))
    finally:
        engine.dispose()
    return LineageCheck(
        version,
        lineage.frame_sha256,
        rebuilt.lineage.frame_sha256 == lineage.frame_sha256,
        rebuilt_sha256=rebuilt.lineage.frame_sha256,
        rows=rebuilt.lineage.rows,
    )
