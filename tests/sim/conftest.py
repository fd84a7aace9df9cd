"""Fixtures of the simulator tests: one drawn scenario and one real MLServer per session."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib
import pytest
from sklearn.pipeline import Pipeline

from decayguard.config import (
    DecayguardConfig,
    FeatureSpec,
    ModelConfig,
    ProjectConfig,
    ServingConfig,
)
from decayguard.sim import FEATURE_NAMES, LoanScenario, Simulation, train_model
from decayguard.store import create_store_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]
SERVE_BIN = ROOT / ".venv-serve" / "bin"
MODEL_NAME = "credit-default"
SKLEARN_MODEL_NAME = "credit-default-sklearn"
SCHEMA = [FeatureSpec(name=n) for n in FEATURE_NAMES[:5]] + [
    FeatureSpec(name="employment", dtype="category")
]


@pytest.fixture(scope="session")
def simulation() -> Simulation:
    return LoanScenario(seed=7).simulate()


@pytest.fixture(scope="session")
def champion(simulation: Simulation) -> Pipeline:
    return train_model(simulation.reference_frame())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """One real MLServer for the session, serving two models side by side."""

    url: str
    store_url: str
    """The SQLite store decayguard's runtime logs to."""


@pytest.fixture(scope="session")
def served(
    champion: Pipeline, simulation: Simulation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``mlserver start`` (serving env) with two models: ``credit-default``, the champion
    exported and deployed on decayguard's runtime (logging to a SQLite store), and
    ``credit-default-sklearn``, the same champion as a joblib file on MLServer's built-in
    sklearn runtime. One server start for both keeps the suite quick."""
    from decayguard.registry import export_model
    from decayguard.serving import ServingProcess, deploy_model

    root = tmp_path_factory.mktemp("project")
    store_url = f"sqlite:///{root}/store.db"
    engine = create_store_engine(store_url)
    upgrade(engine)
    engine.dispose()
    config = DecayguardConfig(
        project=ProjectConfig(store_url=store_url),
        model=ModelConfig(name=MODEL_NAME, entity_key="applicant_id", features=SCHEMA),
        serving=ServingConfig(
            http_port=_free_port(),
            grpc_port=_free_port(),
            metrics_port=_free_port(),
            log_flush_seconds=0.1,
            trust_event_time=True,  # log at the simulated time carried by each request
        ),
        root=root,
    )
    export_model(
        champion,
        root / "export",
        model_name=MODEL_NAME,
        model_version="1",
        features=SCHEMA,
        reference=simulation.reference_frame()[list(FEATURE_NAMES)].head(500),
    )
    deploy_model(config, root / "export")
    process = ServingProcess.from_config(config)
    builtin = process.models_dir / SKLEARN_MODEL_NAME
    builtin.mkdir(parents=True)
    joblib.dump(champion, builtin / "model.joblib")
    (builtin / "model-settings.json").write_text(
        json.dumps(
            {
                "name": SKLEARN_MODEL_NAME,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"},
            }
        )
    )
    process.start()
    try:
        try:
            process.wait_ready(90)
            for name in (MODEL_NAME, SKLEARN_MODEL_NAME):
                ready = httpx.get(f"{process.url}/v2/models/{name}/ready", timeout=10)
                assert ready.status_code == 200, (name, process.log_tail())
        except Exception:
            pytest.fail(f"MLServer did not serve both models:\n{process.log_tail()}")
        yield Served(process.url, store_url)
    finally:
        process.stop()
