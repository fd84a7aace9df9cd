"""MlflowRegistry against a real `mlflow server` on PostgreSQL with proxied artifacts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from decayguard.processes import BackgroundProcess, free_port
from decayguard.registry import load_model
from decayguard.registry.interface import CHAMPION_ALIAS, Exporter, RunRecord
from decayguard.registry.mlflow_registry import TELEMETRY_ENV, MlflowRegistry
from tests.registry.conftest import MODEL

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MLFLOW = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "mlflow"


@pytest.fixture(scope="module")
def mlflow_server_url(
    pg_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`mlflow server` on a fresh PostgreSQL database and a temporary artifact folder."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    server = BackgroundProcess(
        "mlflow-server",
        [
            str(MLFLOW),
            "server",
            "--backend-store-uri",
            pg_database_url,
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        root / "server.log",
        dict(TELEMETRY_ENV),
        root,
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_http(f"{url}/health", timeout=90)
        yield url
    finally:
        server.stop()
    assert not (root / "mlruns").exists()


def test_register_download_and_load_through_the_server(
    mlflow_server_url: str,
    make_exporter: Callable[[], Exporter],
    run_record: Callable[[str], RunRecord],
    tmp_path: Path,
) -> None:
    registry = MlflowRegistry(mlflow_server_url)
    record = registry.register(MODEL, make_exporter(), run_record("drift"), alias=CHAMPION_ALIAS)
    assert record.source.startswith("mlflow-artifacts:/")
    assert record.status == "ready"
    champion = registry.by_alias(MODEL, CHAMPION_ALIAS)
    assert champion is not None
    assert champion.version == record.version
    assert registry.lineage(MODEL, record.version)["trigger"] == "drift"
    assert record.sha256 is not None
    folder = registry.download(MODEL, record.version, tmp_path / "model")
    exported = load_model(folder, sha256=record.sha256)
    assert exported.manifest.model_version == record.version
    run = registry._client.get_run(record.run_id)
    assert {d.dataset.name for d in run.inputs.dataset_inputs} == {"train", "holdout"}
