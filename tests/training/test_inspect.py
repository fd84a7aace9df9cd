"""``decayguard.training.inspect``: versions joined with the store, lineage read and rebuilt.

Unit tests on hand-made registry records, then one retraining (``retrain_once`` with the
in-memory registry twin; the CLI tests use the real MLflow one) on a copy of the session's
retrain world.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from decayguard import load_config
from decayguard.config import DecayguardConfig
from decayguard.errors import ArtifactError
from decayguard.registry.interface import (
    TAG_LINEAGE_HASH,
    TAG_PARENT,
    TAG_STATUS,
    TAG_TRIGGER,
    InMemoryRegistry,
    ModelVersionRecord,
)
from decayguard.store import create_store_engine
from decayguard.store.deployments import record_deployment
from decayguard.training.inspect import (
    lineage_of,
    model_versions,
    primary_metric,
    summarize_version,
    unregistered_attempts,
    verify_lineage,
)
from decayguard.training.retrain import RetrainOutcome, RetrainTrigger, retrain_once
from tests.cli.test_training_cli import world_template

pytestmark = pytest.mark.slow


def _record(version: str, *, aliases: tuple[str, ...] = (), **tags: str) -> ModelVersionRecord:
    return ModelVersionRecord(
        model_name="m",
        version=version,
        aliases=aliases,
        run_id=None,
        source="",
        tags=tags,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        params={"train_rows": "300", "holdout_rows": "40", "label_count.0": "200"},
        metrics={"holdout_accuracy": 0.9, "champion_holdout_accuracy": 0.8, "fit_seconds": 1.0},
    )


def test_stage_comes_from_serving_first_then_the_alias_then_the_status() -> None:
    def stage(record: ModelVersionRecord) -> str:
        return summarize_version(record, None, champion="1", challenger="3").stage

    assert stage(_record("1", aliases=("champion",))) == "serving champion"
    assert stage(_record("2", aliases=("challenger",))) == "challenger"
    assert stage(_record("3")) == "serving challenger"
    assert stage(_record("4")) == "registered"
    assert stage(_record("5", aliases=("challenger",), **{TAG_STATUS: "failed"})) == "failed"


def test_summary_reads_metrics_rows_counts_and_the_store_run() -> None:
    run = {
        "id": "abc",
        "trigger": "decay",
        "reason": "accuracy fell to 0.61",
        "parent_version": "1",
        "as_of": datetime(2026, 1, 1, tzinfo=UTC),
    }
    tags = {TAG_TRIGGER: "decay", TAG_LINEAGE_HASH: "f" * 64, TAG_PARENT: "1"}
    summary = summarize_version(_record("2", **tags), run, champion="1", challenger=None)
    assert summary.metrics == {"accuracy": 0.9}
    assert summary.champion_metrics == {"accuracy": 0.8}
    assert (summary.training_rows, summary.holdout_rows) == (300, 40)
    assert summary.label_counts == {"0": 200}
    assert summary.reason == "accuracy fell to 0.61"
    assert summary.trigger == "decay"
    assert summary.parent_version == "1"
    assert summary.to_dict()["as_of"] == "2026-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Trained:
    cfg: DecayguardConfig
    registry: InMemoryRegistry
    outcome: RetrainOutcome


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    template, now = world_template(tmp_path_factory)
    folder = tmp_path_factory.mktemp("inspect-world") / "project"
    shutil.copytree(template, folder)
    cfg = load_config(folder)
    registry = InMemoryRegistry(tmp_path_factory.mktemp("registry"))
    trigger = RetrainTrigger("manual", "inspect test")
    outcome = retrain_once(cfg, trigger, now=now, registry=registry)
    assert outcome.status == "registered", outcome.message
    return Trained(cfg, registry, outcome)


def test_model_versions_join_the_registry_with_the_store(trained: Trained) -> None:
    v1, v2 = model_versions(trained.cfg, trained.registry)
    assert (v1.version, v1.aliases, v1.stage, v1.trigger) == (
        "1",
        ("champion",),
        "serving champion",
        "imported",
    )
    assert v1.training_run is None
    assert v1.metrics == {}
    assert (v2.version, v2.aliases, v2.stage, v2.trigger) == (
        "2",
        ("challenger",),
        "challenger",
        "manual",
    )
    assert v2.reason == "inspect test"
    assert v2.training_run == trained.outcome.run_id
    assert v2.metrics == pytest.approx(trained.outcome.metrics)
    assert v2.champion_metrics == pytest.approx(trained.outcome.champion_metrics)
    assert v2.label_counts == trained.outcome.label_counts
    assert v2.training_rows == sum(trained.outcome.label_counts.values())
    assert v2.lineage_hash == trained.outcome.lineage_hash
    assert v2.parent_version == "1"
    assert primary_metric(trained.cfg) in v2.metrics


def test_a_version_serving_as_challenger_shows_it(trained: Trained) -> None:
    engine = create_store_engine(trained.cfg.resolved_store_url)
    try:
        record_deployment(engine, trained.cfg.model.name, "2", role="challenger", mode="shadow")
    finally:
        engine.dispose()
    stages = [v.stage for v in model_versions(trained.cfg, trained.registry)]
    assert stages == ["serving champion", "serving challenger"]


def test_lineage_of_keeps_the_training_run_in_extra(trained: Trained) -> None:
    lineage = lineage_of(trained.cfg, "2", trained.registry)
    assert lineage.frame_sha256 == trained.outcome.lineage_hash
    assert lineage.extra["training_run"] == trained.outcome.run_id
    assert lineage.extra["labels_as_of"]
    with pytest.raises(ArtifactError, match="version 1 has no training-set lineage"):
        lineage_of(trained.cfg, "1", trained.registry)
    with pytest.raises(ArtifactError, match="no registered version '9'"):
        lineage_of(trained.cfg, "9", trained.registry)


def test_verify_lineage_rebuilds_the_same_hash(trained: Trained) -> None:
    check = verify_lineage(trained.cfg, "2", trained.registry)
    assert check.same
    assert check.rebuilt_sha256 == check.recorded_sha256 == trained.outcome.lineage_hash
    assert check.cause is None
    assert check.rows is not None
    assert check.rows > trained.outcome.label_counts["0"]


def test_verify_lineage_reports_a_difference_with_its_cause(trained: Trained) -> None:
    lineage = lineage_of(trained.cfg, "2", trained.registry)
    # A record that claims other labels: the rebuilt frame cannot match it.
    forged = type(lineage)(**{**lineage.to_dict(), "frame_sha256": "0" * 64, "labels_sha256": ""})
    check = verify_lineage(trained.cfg, "2", trained.registry, lineage=forged)
    assert not check.same
    assert check.cause is not None
    assert "changed since: the labels" in check.cause


def test_unregistered_attempts_lists_runs_that_registered_nothing(trained: Trained) -> None:
    assert unregistered_attempts(trained.cfg) == []
