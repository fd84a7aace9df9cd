"""retrain_once on a project that has served the simulator's world: real Feast, real store,
the user's function in a real child process; the registry is the in-memory twin (the MLflow
adapter has its own tests, and the CLI and flow tests use it)."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from decayguard.config import DecayguardConfig, load_config
from decayguard.features.lineage import TrainingSetLineage
from decayguard.features.repo import FeatureRepo
from decayguard.registry.interface import InMemoryRegistry
from decayguard.serving.deploy import models_dir_for
from decayguard.sim.retrain_world import RetrainWorld, build_retrain_world
from decayguard.store import create_store_engine, ingest_labels, read_audit
from decayguard.store.deployments import active_version
from decayguard.store.labels import LabelRecord
from decayguard.store.training_runs import training_history
from decayguard.training.retrain import RetrainTrigger, retrain_once
from decayguard.training.sets import rebuild_point_in_time_set, training_labels

pytestmark = pytest.mark.slow

BAD_FUNCTIONS = """
import time

import pandas as pd
from sklearn.linear_model import LogisticRegression


def explode(training):
    raise ValueError("the warehouse said no")


def hang(training):
    time.sleep(600)


def not_a_model(training):
    return "a string"


def wrong_features(training):
    frame = training.features[["income", "age"]]
    return LogisticRegression().fit(frame, training.labels)
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> RetrainWorld:
    return build_retrain_world(tmp_path_factory.mktemp("world") / "project", until_day=40)


def _variant(
    world: RetrainWorld, tmp_path: Path, **sections: dict[str, object]
) -> DecayguardConfig:
    """A copy of the world's project with some config keys changed."""
    folder = tmp_path / "project"
    shutil.copytree(world.folder, folder)
    (folder / "bad_train.py").write_text(textwrap.dedent(BAD_FUNCTIONS))
    data = yaml.safe_load((folder / "decayguard.yaml").read_text())
    for section, keys in sections.items():
        data.setdefault(section, {}).update(keys)
    (folder / "decayguard.yaml").write_text(yaml.safe_dump(data))
    return load_config(folder)


def _settings_bytes(cfg: DecayguardConfig) -> bytes:
    return (models_dir_for(cfg) / cfg.model.name / "model-settings.json").read_bytes()


def test_a_retraining_registers_a_challenger_and_leaves_the_champion_serving(
    world: RetrainWorld, tmp_path: Path
) -> None:
    cfg = _variant(world, tmp_path)
    before = _settings_bytes(cfg)
    registry = InMemoryRegistry(tmp_path / "registry")
    outcome = retrain_once(
        cfg, RetrainTrigger("decay", "accuracy below 0.75"), now=world.now, registry=registry
    )
    assert outcome.status == "registered", outcome.message
    assert outcome.version == "2"
    assert outcome.parent_version == "1"
    # The champion was imported first so that version numbers follow on from it.
    champion = registry.by_alias(cfg.model.name, "champion")
    challenger = registry.by_alias(cfg.model.name, "challenger")
    assert champion is not None
    assert champion.version == "1"
    assert challenger is not None
    assert challenger.version == "2"
    assert challenger.lineage_hash == outcome.lineage_hash
    assert challenger.trigger == "decay"
    assert set(outcome.metrics) >= {"accuracy", "roc_auc"}
    assert set(outcome.champion_metrics) >= {"accuracy", "roc_auc"}
    assert outcome.metrics["accuracy"] > 0.7
    # Serving untouched.
    assert _settings_bytes(cfg) == before
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        assert active_version(engine, cfg.model.name) == "1"
        runs = training_history(engine, cfg.model.name)
        assert [r["status"] for r in runs] == ["registered"]
        assert runs[0]["version"] == "2"
        # The lineage rebuilds to the same hash, and the holdout never reached the function.
        lineage_data = registry.lineage(cfg.model.name, "2")
        lineage_data.pop("training_run")
        lineage = TrainingSetLineage.from_dict(lineage_data)
        rebuilt = rebuild_point_in_time_set(cfg, engine, FeatureRepo.from_config(cfg), lineage)
        assert rebuilt.lineage.frame_sha256 == outcome.lineage_hash
        holdout_start = pd.Timestamp(lineage.extra["holdout_start"])
        frame = rebuilt.frame
        train_rows = int((frame["event_timestamp"] < holdout_start).sum())
        assert lineage.extra["train_rows"] <= train_rows  # rows without any feature are dropped
        assert lineage.extra["holdout_rows"] > 0
        # A label corrected after the training set was built does not change its rebuild.
        current = training_labels(cfg, engine, datetime.now(UTC))
        key = current[current["prediction_id"].notna()].iloc[0]
        ingest_labels(
            engine,
            [
                LabelRecord(
                    cfg.model.name,
                    "0" if key[cfg.model.target] == "1" else "1",
                    prediction_id=key["prediction_id"],
                )
            ],
        )
        again = rebuild_point_in_time_set(cfg, engine, FeatureRepo.from_config(cfg), lineage)
        assert again.lineage.frame_sha256 == outcome.lineage_hash
        assert any(e["action"] == "training.registered" for e in read_audit(engine))
    finally:
        engine.dispose()


def test_one_training_per_trigger_window_and_a_cooldown(
    world: RetrainWorld, tmp_path: Path
) -> None:
    cfg = _variant(world, tmp_path, training={"min_hours_between": 24})
    registry = InMemoryRegistry(tmp_path / "registry")
    first = retrain_once(cfg, RetrainTrigger("decay", "a"), now=world.now, registry=registry)
    assert first.status == "registered"
    redelivered = retrain_once(cfg, RetrainTrigger("decay", "a"), now=world.now, registry=registry)
    assert redelivered.status == "skipped"
    assert "holds this model or trigger window" in redelivered.message
    later = world.now + timedelta(hours=3)
    cooled = retrain_once(cfg, RetrainTrigger("decay", "b"), now=later, registry=registry)
    assert cooled.status == "skipped"
    assert "training.min_hours_between" in cooled.message
    # A person asking explicitly is not held back by the cooldown.
    manual = retrain_once(cfg, RetrainTrigger("manual", "by hand"), now=later, registry=registry)
    assert manual.status == "registered"
    assert manual.version == "3"
    assert [v.version for v in registry.versions(cfg.model.name)] == ["1", "2", "3"]


def test_too_few_matured_labels_waits_and_trains_nothing(
    world: RetrainWorld, tmp_path: Path
) -> None:
    cfg = _variant(world, tmp_path, training={"min_labels": 1_000_000})
    registry = InMemoryRegistry(tmp_path / "registry")
    outcome = retrain_once(cfg, RetrainTrigger("decay"), now=world.now, registry=registry)
    assert outcome.status == "waiting_for_labels"
    assert "needed" in outcome.message
    assert "1000000" in outcome.message
    assert registry.versions(cfg.model.name) == []
    # Waiting does not use up the trigger window: the same trigger may try again later.
    assert retrain_once(cfg, RetrainTrigger("decay"), now=world.now, registry=registry).status == (
        "waiting_for_labels"
    )


@pytest.mark.parametrize(
    ("function", "timeout", "expected"),
    [
        ("bad_train:explode", 5.0, "raised ValueError: the warehouse said no"),
        ("bad_train:hang", 0.1, "still running after training.timeout_minutes (0.1)"),
        ("bad_train:not_a_model", 5.0, "cannot be exported"),
        ("bad_train:wrong_features", 5.0, "does not accept the model's features"),
    ],
)
def test_a_failing_training_function_is_named_alerted_and_leaves_the_champion(
    world: RetrainWorld, tmp_path: Path, function: str, timeout: float, expected: str
) -> None:
    cfg = _variant(
        world, tmp_path, model={"train_function": function}, training={"timeout_minutes": timeout}
    )
    before = _settings_bytes(cfg)
    registry = InMemoryRegistry(tmp_path / "registry")
    outcome = retrain_once(cfg, RetrainTrigger("decay"), now=world.now, registry=registry)
    assert outcome.status == "failed"
    assert function in outcome.message
    assert expected in outcome.message
    assert "the champion keeps serving" in outcome.message
    assert registry.by_alias(cfg.model.name, "challenger") is None
    assert _settings_bytes(cfg) == before
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        assert active_version(engine, cfg.model.name) == "1"
        from decayguard.alerts.incidents import open_incidents

        incidents = open_incidents(engine, cfg.model.name)
        assert [i["rule"] for i in incidents] == ["retrain"]
        assert function in str(incidents[0]["message"])
    finally:
        engine.dispose()
