"""Requests that carry only entity keys: features come from a real ``feast serve``."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from decayguard.registry import ArtifactManifest, load_model
from decayguard.serving import ServingProcess, deploy_model

from .conftest import Artifacts
from .helpers import NUMERIC, ROOT, free_port, project_config, wait_stored

FEATURE_VIEW = textwrap.dedent(
    """
    from datetime import timedelta
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, String

    applicant = Entity(name="applicant", join_keys=["applicant_id"], value_type=ValueType.INT64)
    source = FileSource(path="data/applicants.parquet", timestamp_field="event_timestamp")
    NUMERIC = ["income", "debt_ratio", "age", "credit_lines", "utilization"]
    applicant_features = FeatureView(
        name="applicant_features",
        entities=[applicant],
        ttl=timedelta(days=3650),
        schema=[Field(name=n, dtype=Float64) for n in NUMERIC]
        + [Field(name="employment", dtype=String)],
        source=source,
        online=True,
    )
    credit_default_v1 = FeatureService(name="credit_default_v1", features=[applicant_features])
    """
)


@pytest.fixture(scope="module")
def feast_server(tmp_path_factory: pytest.TempPathFactory, artifacts: Artifacts) -> Iterator[str]:
    """A tiny Feast repo (10 applicants), applied, materialized and served over HTTP."""
    repo = tmp_path_factory.mktemp("feature_repo")
    (repo / "data").mkdir()
    (repo / "feature_store.yaml").write_text(
        "project: dgserving\nregistry: data/registry.db\nprovider: local\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
        "offline_store:\n  type: file\nentity_key_serialization_version: 3\n"
    )
    (repo / "features.py").write_text(FEATURE_VIEW)
    rows = artifacts.frame.iloc[:10].reset_index(drop=True)
    rows.insert(0, "applicant_id", np.arange(1, 11, dtype=np.int64))
    rows["event_timestamp"] = datetime(2026, 1, 1, tzinfo=UTC)
    rows.to_parquet(repo / "data" / "applicants.parquet")
    env = {**os.environ, "FEAST_USAGE": "False", "DO_NOT_TRACK": "1"}
    feast = str(ROOT / ".venv" / "bin" / "feast")
    # `feast apply` + `feast materialize-incremental`, through Feast's own Python API in this
    # process (the same code the CLI runs, without two more interpreter start-ups).
    _apply_and_materialize(repo)
    port = free_port()
    proc = subprocess.Popen(
        [feast, "serve", "-h", "127.0.0.1", "-p", str(port)],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "feast serve exited"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # a read-only server: nothing to flush
        proc.wait()


def _apply_and_materialize(repo: Path) -> None:
    import importlib.util

    from feast import FeatureStore

    spec = importlib.util.spec_from_file_location("dg_test_feature_repo", repo / "features.py")
    assert spec is not None
    assert spec.loader is not None
    definitions = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(definitions)
    store = FeatureStore(repo_path=str(repo))
    store.apply(
        [definitions.applicant, definitions.applicant_features, definitions.credit_default_v1]
    )
    store.materialize_incremental(end_date=datetime.now(UTC))


def entity_request(keys: list[int], request_id: str, **features: list[object]) -> dict[str, object]:
    inputs: list[dict[str, object]] = [
        {"name": "applicant_id", "datatype": "INT64", "shape": [len(keys)], "data": keys}
    ]
    for name, values in features.items():
        inputs.append({"name": name, "datatype": "FP64", "shape": [len(values)], "data": values})
    return {"id": request_id, "inputs": inputs}


def test_entity_keys_are_resolved_through_feast(
    feast_server: str,
    server: ServingProcess,
    server_project: Path,
    serving_pg_url: str,
    artifacts: Artifacts,
) -> None:
    config = project_config(
        server_project,
        serving_pg_url,
        "online",
        feature_service="credit_default_v1",
        feast_url=feast_server,
    )
    deploy_model(config, artifacts.v1, server_url=server.url)
    url = f"{server.url}/v2/models/online/infer"
    expected = load_model(artifacts.v1, sha256=ArtifactManifest.read(artifacts.v1).sha256)
    local = expected.model.predict_scores(artifacts.frame.iloc[[2, 5]])[:, 1]

    response = httpx.post(url, json=entity_request([3, 6], "feast-1"), timeout=10)
    assert response.status_code == 200, response.text
    scores = {o["name"]: o["data"] for o in response.json()["outputs"]}["score"]
    np.testing.assert_allclose(scores, local)
    stored = wait_stored(serving_pg_url, ["feast-1.0", "feast-1.1"])
    assert stored["feast-1.0"]["entity_key"] == "3"

    # A value sent with the request wins over the online one.
    override = entity_request([3], "feast-2", income=[1.0])
    response = httpx.post(url, json=override, timeout=10)
    assert response.status_code == 200
    row = artifacts.frame.iloc[[2]].assign(income=1.0)
    score = {o["name"]: o["data"] for o in response.json()["outputs"]}["score"][0]
    assert score == pytest.approx(expected.model.predict_scores(row)[0, 1])

    # An applicant the feature store does not know: a 4xx naming what is missing.
    response = httpx.post(url, json=entity_request([999], "feast-3"), timeout=10)
    assert response.status_code == 422
    assert "no online value for applicant_id=999" in response.json()["error"]


def test_an_unreachable_feature_server_is_a_503_not_a_500(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    config = project_config(
        server_project,
        serving_pg_url,
        "offline-feast",
        feature_service="credit_default_v1",
        feast_url=f"http://127.0.0.1:{free_port()}",
    )
    deploy_model(config, artifacts.v1, server_url=server.url)
    response = httpx.post(
        f"{server.url}/v2/models/offline-feast/infer", json=entity_request([1], "nofeast-1")
    )
    assert response.status_code == 503
    assert "Feast feature server" in response.json()["error"]
    # Requests with every feature still work without the feature server.
    full = {
        "inputs": [{"name": n, "datatype": "FP64", "shape": [1], "data": [1.0]} for n in NUMERIC]
        + [{"name": "employment", "datatype": "BYTES", "shape": [1], "data": ["retired"]}]
    }
    assert httpx.post(f"{server.url}/v2/models/offline-feast/infer", json=full).status_code == 200
