"""Safe rollout on a real ``mlserver start``: both versions score every shadow and canary
request (paired silent rows in the store), per-arm health on MLServer's metrics port, and
model metadata that says what the server really serves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from decayguard.serving import ServingProcess
from decayguard.serving.arm_metrics import read_arm_health
from decayguard.serving.deploy import serving_state
from decayguard.serving.routing import Canary
from decayguard.store import create_store_engine, read_window

from .conftest import Artifacts
from .helpers import request_body, wait_stored
from .test_server import deploy, infer


def _with_entity(body: dict[str, Any], key: int) -> dict[str, Any]:
    entity = {"name": "applicant_id", "datatype": "INT64", "shape": [1], "data": [key]}
    inputs = [*body["inputs"], entity]
    return {**body, "inputs": inputs}


def _metrics_url(server: ServingProcess) -> str:
    return f"http://{server.host}:{server.metrics_port}/metrics"


def test_shadow_logs_a_paired_silent_row_for_every_request(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    deploy(
        server_project, serving_pg_url, "paired-shadow", artifacts.v1, server,
        challenger=artifacts.v2, mode="shadow",
    )  # fmt: skip
    ids = [f"ps-{i}-{uuid.uuid4().hex[:6]}" for i in range(12)]
    with httpx.Client() as client:
        for i, rid in enumerate(ids):
            body = request_body(artifacts.frame.iloc[i], rid)
            response = infer(client, server, body, "paired-shadow")
            assert response.status_code == 200, response.text
            assert response.json()["parameters"] == {"arm": "champion", "model_version": "1"}
    rows = wait_stored(serving_pg_url, ids + [f"{i}:shadow" for i in ids])
    for rid in ids:
        assert (rows[rid]["arm"], rows[rid]["model_version"], rows[rid]["paired_id"]) == (
            "champion",
            "1",
            None,
        )
        silent = rows[f"{rid}:shadow"]
        assert (silent["arm"], silent["model_version"], silent["paired_id"]) == ("shadow", "2", rid)
        assert (silent["inclusion_prob"], silent["review_sampled"]) == (0.0, False)

    engine = create_store_engine(serving_pg_url)
    try:
        meta = read_window(engine, "paired-shadow", start, datetime.now(UTC)).meta()
    finally:
        engine.dispose()
    pairs = meta.dropna(subset=["paired_id"]).set_index("paired_id")["prediction_id"]
    assert pairs.to_dict() == {rid: f"{rid}:shadow" for rid in ids}

    health = read_arm_health(_metrics_url(server), "paired-shadow")
    assert set(health) == {"1", "2"}
    assert (health["1"].requests, health["2"].requests) == (12, 12)
    assert (health["1"].errors, health["2"].errors) == (0, 0)
    assert health["1"].p99_ms is not None
    assert health["2"].p99_ms is not None


def test_canary_has_both_versions_score_every_request_and_reports_its_state(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    name = "paired-canary"
    deploy(
        server_project, serving_pg_url, name, artifacts.v1, server,
        challenger=artifacts.v2, mode="canary", canary_share=0.5,
    )  # fmt: skip
    assert serving_state(server.url, name) == {
        "champion_version": "1",
        "challenger_version": "2",
        "mode": "canary",
        "canary_share": 0.5,
    }
    sticky = Canary(0.5)
    answered: dict[str, str] = {}
    tag = uuid.uuid4().hex[:6]
    with httpx.Client() as client:
        for repeat in range(2):
            for key in range(30):
                rid = f"pc-{tag}-{key}-{repeat}"
                body = _with_entity(request_body(artifacts.frame.iloc[key], rid), key)
                response = infer(client, server, body, name)
                assert response.status_code == 200, response.text
                params = response.json()["parameters"]
                assert set(params) == {"arm", "model_version"}  # the response format is unchanged
                assert params["arm"] == sticky.route(str(key)).answer
                answered[rid] = params["model_version"]
    assert set(answered.values()) == {"1", "2"}
    rows = wait_stored(serving_pg_url, [*answered, *(f"{r}:shadow" for r in answered)])
    for rid, version in answered.items():
        mine, other = rows[rid], rows[f"{rid}:shadow"]
        assert mine["model_version"] == version
        assert mine["arm"] == ("challenger" if version == "2" else "champion")
        assert (other["arm"], other["paired_id"]) == ("shadow", rid)
        assert {mine["model_version"], other["model_version"]} == {"1", "2"}
        assert other["entity_key"] == mine["entity_key"] == rid.split("-")[2]

    health = read_arm_health(_metrics_url(server), name)
    assert (health["1"].requests, health["2"].requests) == (60, 60)
    assert (health["1"].errors, health["2"].errors) == (0, 0)

    # A hot swap to the champion alone: the server says so at once.
    deploy(server_project, serving_pg_url, name, artifacts.v2, server)
    assert serving_state(server.url, name) == {
        "champion_version": "2",
        "challenger_version": None,
        "mode": "champion",
        "canary_share": 0.0,
    }


def test_serving_state_is_none_for_an_unknown_model_or_a_silent_server(
    server: ServingProcess,
) -> None:
    assert serving_state(server.url, "never-deployed") is None
    assert serving_state("http://127.0.0.1:1", "credit-default", timeout=0.5) is None


def test_client_errors_are_not_counted_as_arm_errors(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    name = "paired-errors"
    deploy(
        server_project, serving_pg_url, name, artifacts.v1, server,
        challenger=artifacts.v2, mode="shadow",
    )  # fmt: skip
    good = request_body(artifacts.frame.iloc[0])
    bad = {**good, "inputs": good["inputs"][1:]}  # type: ignore[index]
    with httpx.Client() as client:
        assert infer(client, server, good, name).status_code == 200
        assert infer(client, server, bad, name).status_code == 422
    health = read_arm_health(_metrics_url(server), name)
    assert (health["1"].requests, health["1"].errors) == (1, 0)
    assert (health["2"].requests, health["2"].errors) == (1, 0)
