"""Fixtures of the registry tests: a tiny real export, and each registry implementation."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from decayguard.registry import export_model
from decayguard.registry.interface import (
    TAG_LINEAGE_HASH,
    TAG_TRIGGER,
    DatasetInput,
    Exporter,
    InMemoryRegistry,
    ModelRegistry,
    RunRecord,
)

if TYPE_CHECKING:
    from decayguard.registry.mlflow_registry import MlflowRegistry

MODEL = "churn"


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 2))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1]})


@pytest.fixture(scope="session")
def labels(frame: pd.DataFrame) -> list[str]:
    return ["1" if v > 0 else "0" for v in frame["a"] + 0.3 * frame["b"]]


@pytest.fixture
def make_exporter(frame: pd.DataFrame, labels: list[str], tmp_path: Path) -> Callable[[], Exporter]:
    """An exporter that fits a LogisticRegression and exports it for the given version."""
    from sklearn.linear_model import LogisticRegression

    def factory() -> Exporter:
        def export(version: str) -> Path:
            folder = tmp_path / "exports" / version
            model = LogisticRegression().fit(frame, labels)
            export_model(model, folder, model_name=MODEL, model_version=version, reference=frame)
            return folder

        return export

    return factory


@pytest.fixture
def run_record(frame: pd.DataFrame) -> Callable[[str], RunRecord]:
    def make(trigger: str) -> RunRecord:
        return RunRecord(
            run_name=f"retrain-{trigger}",
            params={"C": 1.0, "penalty": "l2", "max_iter": 100, "note": None},
            metrics={"accuracy": 0.9, "roc_auc": 0.95},
            tags={TAG_TRIGGER: trigger, TAG_LINEAGE_HASH: "ab" * 32},
            lineage={"trigger": trigger, "rows": len(frame), "window": ["2026-01-01", "x"]},
            datasets=(
                DatasetInput("train", "ab" * 32, "training", frame, source="/data/train.parquet"),
                DatasetInput("holdout", "cd" * 32, "holdout", frame.head(20)),
            ),
        )

    return make


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite file with its tables created once (~6 s), copied by each test."""
    from decayguard.registry.mlflow_registry import MlflowRegistry

    root = tmp_path_factory.mktemp("mlflow-template")
    db = root / "mlflow.db"
    registry = MlflowRegistry(f"sqlite:///{db}")
    assert registry.versions(MODEL) == []  # creates the tracking and registry tables
    return db


@pytest.fixture
def mlflow_registry(tmp_path: Path, mlflow_template: Path) -> MlflowRegistry:
    """An empty MlflowRegistry on its own SQLite file, artifacts under ``tmp_path``."""
    from decayguard.registry.mlflow_registry import MlflowRegistry

    root = tmp_path / "mlflow"
    root.mkdir()
    shutil.copyfile(mlflow_template, root / "mlflow.db")
    return MlflowRegistry(
        f"sqlite:///{root / 'mlflow.db'}", artifact_location=(root / "artifacts").as_uri()
    )


@pytest.fixture(params=["memory", "mlflow"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    """Each implementation of the ModelRegistry contract, empty."""
    if request.param == "memory":
        return InMemoryRegistry(tmp_path / "memory")
    registry: ModelRegistry = request.getfixturevalue("mlflow_registry")
    return registry
