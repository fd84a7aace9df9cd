"""The decayguard runtime inside a real ``mlserver start`` process, on PostgreSQL."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from decayguard.errors import ServiceError
from decayguard.registry import ArtifactManifest, load_model
from decayguard.serving import ServingProcess, deploy_model, models_dir_for, spool_dir_for
from decayguard.serving.shipper import read_status

from .conftest import Artifacts
from .helpers import (
    NUMERIC,
    project_config,
    request_body,
    set_store_reachable,
    stored_rows,
    wait_for,
    wait_stored,
)


def infer(
    client: httpx.Client,
    server: ServingProcess,
    body: dict[str, Any],
    model: str = "credit-default",
) -> httpx.Response:
    return client.post(f"{server.url}/v2/models/{model}/infer", json=body)


def deploy(
    root: Path, url: str, model: str, champion: Path, server: ServingProcess, **kw: Any
) -> None:
    deploy_model(project_config(root, url, model), champion, server_url=server.url, **kw)


def test_prediction_is_answered_and_logged_with_its_sampling_probability(
    server: ServingProcess, serving_pg_url: str, artifacts: Artifacts
) -> None:
    row = artifacts.frame.iloc[3]
    with httpx.Client() as client:
        response = infer(client, server, request_body(row, "req-logged-1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["parameters"]["arm"] == "champion"
    assert body["parameters"]["model_version"] == "1"
    assert response.headers["x-decayguard-arm"] == "champion"
    outputs = {o["name"]: o["data"] for o in body["outputs"]}
    assert outputs["prediction_id"] == ["req-logged-1"]
    expected = load_model(artifacts.v1, sha256=ArtifactManifest.read(artifacts.v1).sha256)
    proba = expected.model.predict_scores(artifacts.frame.iloc[[3]])[0, 1]
    assert outputs["score"][0] == pytest.approx(proba)
    assert outputs["predict"] == ["1" if proba >= 0.5 else "0"]

    stored = wait_stored(serving_pg_url, ["req-logged-1"])["req-logged-1"]
    assert stored["arm"] == "champion"
    assert stored["model_version"] == "1"
    assert stored["score"] == pytest.approx(proba)
    assert 0 < float(stored["inclusion_prob"]) <= 1  # type: ignore[arg-type]
    assert isinstance(stored["review_sampled"], bool)


def test_tritonclient_a_third_party_v2_client_gets_answers(
    server: ServingProcess, artifacts: Artifacts
) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
    rows = artifacts.frame.iloc[:3]
    inputs = []
    for name in [*NUMERIC, "employment"]:
        if name == "employment":
            array = rows[name].to_numpy(dtype=object).astype(bytes)
            tensor = triton.InferInput(name, [3], "BYTES")
        else:
            array = rows[name].to_numpy(dtype=np.float64)
            tensor = triton.InferInput(name, [3], "FP64")
        tensor.set_data_from_numpy(array, binary_data=False)
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput(n, binary_data=False) for n in ("predict", "score")]
    result = client.infer("credit-default", inputs, outputs=outputs, request_id="triton-1")
    assert result.get_response()["parameters"]["arm"] == "champion"
    scores = result.as_numpy("score")
    assert scores is not None
    assert scores.shape == (3,)
    assert ((scores >= 0) & (scores <= 1)).all()
    ids = result.as_numpy("prediction_id")
    assert [i.decode() if isinstance(i, bytes) else i for i in ids] == [
        "triton-1.0",
        "triton-1.1",
        "triton-1.2",
    ]


def _mutate(body: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(body))
    for tensor in out["inputs"]:
        if tensor["name"] == name:
            tensor.update(changes)
    return out


ZODIAC = {"name": "zodiac", "datatype": "FP64", "shape": [1], "data": [1.0]}
BAD_REQUESTS = [
    ("string for a float", lambda b: _mutate(b, "income", datatype="BYTES", data=["x"]), "income"),
    ("bool for a float", lambda b: _mutate(b, "age", datatype="BOOL", data=[True]), "age"),
    ("null, not nullable", lambda b: _mutate(b, "debt_ratio", data=[None]), "debt_ratio"),
    ("zero rows", lambda b: _mutate(b, "age", shape=[0], data=[]), "age"),
    ("shape/data mismatch", lambda b: _mutate(b, "utilization", shape=[2]), "utilization"),
    ("2-column tensor", lambda b: _mutate(b, "utilization", shape=[1, 2]), "utilization"),
    ("number for a category", lambda b: _mutate(b, "employment", datatype="FP64"), "employment"),
    ("unknown input", lambda b: {**b, "inputs": [*b["inputs"], ZODIAC]}, "zodiac"),
    ("missing input", lambda b: {**b, "inputs": b["inputs"][1:]}, "income"),
    ("rows disagree", lambda b: _mutate(b, "age", shape=[2], data=[30.0, 40.0]), "age"),
    ("request id too long", lambda b: {**b, "id": "x" * 80}, "id"),
    ("no inputs", lambda b: {**b, "inputs": []}, "inputs"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "mutate", "field"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_request_gets_a_4xx_naming_the_input(
    server: ServingProcess, artifacts: Artifacts, case: str, mutate: Any, field: str
) -> None:
    body = mutate(request_body(artifacts.frame.iloc[0]))
    with httpx.Client() as client:
        response = infer(client, server, body)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    assert f"'{field}'" in response.json()["error"], response.text


def test_malformed_bodies_never_get_a_500(server: ServingProcess) -> None:
    url = f"{server.url}/v2/models/credit-default/infer"
    with httpx.Client() as client:
        for content in (b"not json", b"{}", b'{"inputs": [{"name": "x"}]}', b"[]"):
            response = client.post(
                url, content=content, headers={"content-type": "application/json"}
            )
            assert 400 <= response.status_code < 500, (content, response.text)


def test_lightgbm_model_is_served_with_its_native_format(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    deploy(server_project, serving_pg_url, "lgbm", artifacts.lgbm, server)
    expected = load_model(artifacts.lgbm, sha256=ArtifactManifest.read(artifacts.lgbm).sha256)
    with httpx.Client() as client:
        for i in range(5):
            response = infer(client, server, request_body(artifacts.frame.iloc[i]), "lgbm")
            assert response.status_code == 200, response.text
            score = {o["name"]: o["data"] for o in response.json()["outputs"]}["score"][0]
            local = expected.model.predict_scores(artifacts.frame.iloc[[i]])[0, 1]
            assert score == pytest.approx(local)
            assert response.json()["parameters"]["model_version"] == "3-lgbm"


def test_tampered_artifact_is_refused_and_the_old_model_keeps_serving(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    config = project_config(server_project, serving_pg_url, "tamper")
    deploy_model(config, artifacts.v1, server_url=server.url)
    # A second version is installed, then its file is altered on disk before loading.
    tampered_source = server_project / "tampered-export"
    shutil.copytree(artifacts.v2, tampered_source)
    pin = deploy_model(config, tampered_source).champion
    installed = models_dir_for(config) / "tamper" / pin.path / "model.skops"
    installed.write_bytes(installed.read_bytes() + b"\0")
    from decayguard.serving import load_into_server

    with pytest.raises(ServiceError, match="SHA-256"):
        load_into_server(server.url, "tamper")
    with httpx.Client() as client:
        response = infer(client, server, request_body(artifacts.frame.iloc[0]), "tamper")
    assert response.status_code == 200
    assert response.json()["parameters"]["model_version"] == "1"


def test_hot_swap_under_concurrent_load_fails_no_request(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    deploy(server_project, serving_pg_url, "swap", artifacts.v1, server)
    stop = threading.Event()
    failures: list[str] = []
    versions: set[str] = set()
    answered = 0
    lock = threading.Lock()
    body = request_body(artifacts.frame.iloc[1])

    def client_loop() -> None:
        nonlocal answered
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    response = infer(client, server, body, "swap")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                with lock:
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:100]}")
                    else:
                        answered += 1
                        versions.add(response.json()["parameters"]["model_version"])

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(5):
            deploy(
                server_project, serving_pg_url, "swap", [artifacts.v2, artifacts.v1][i % 2], server
            )
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert answered > 20
    assert versions == {"1", "2"}
    with httpx.Client() as client:  # the last swap (to version 2) is what answers now
        response = infer(client, server, body, "swap")
    assert response.json()["parameters"]["model_version"] == "2"


def test_shadow_challenger_scores_every_request_and_the_champion_answers(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    deploy(
        server_project, serving_pg_url, "shadowed", artifacts.v1, server,
        challenger=artifacts.v2, mode="shadow",
    )  # fmt: skip
    ids = [f"shadow-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
    with httpx.Client() as client:
        for i, rid in enumerate(ids):
            response = infer(client, server, request_body(artifacts.frame.iloc[i], rid), "shadowed")
            assert response.status_code == 200
            assert response.json()["parameters"] == {"arm": "champion", "model_version": "1"}
    rows = wait_stored(serving_pg_url, ids + [f"{i}:shadow" for i in ids])
    for rid in ids:
        assert rows[rid]["arm"] == "champion"
        assert rows[rid]["model_version"] == "1"
        shadow = rows[f"{rid}:shadow"]
        assert (shadow["arm"], shadow["model_version"]) == ("shadow", "2")
        assert shadow["inclusion_prob"] == 0.0
        assert shadow["review_sampled"] is False


def test_canary_is_sticky_by_entity_and_answers_a_share_of_traffic(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    deploy(
        server_project, serving_pg_url, "canaried", artifacts.v1, server,
        challenger=artifacts.v2, mode="canary", canary_share=0.5,
    )  # fmt: skip
    arms: dict[int, set[str]] = {}
    logged: dict[str, tuple[str, str]] = {}
    with httpx.Client() as client:
        for repeat in range(2):
            for key in range(40):
                body = request_body(artifacts.frame.iloc[key], f"canary-{key}-{repeat}")
                body["inputs"].append(  # type: ignore[attr-defined]
                    {"name": "applicant_id", "datatype": "INT64", "shape": [1], "data": [key]}
                )
                response = infer(client, server, body, "canaried")
                assert response.status_code == 200, response.text
                params = response.json()["parameters"]
                arms.setdefault(key, set()).add(params["arm"])
                logged[f"canary-{key}-{repeat}"] = (params["arm"], params["model_version"])
    assert all(len(a) == 1 for a in arms.values()), "an entity met both models"
    counts = [next(iter(a)) for a in arms.values()]
    assert 8 <= counts.count("challenger") <= 32  # Binomial(40, 0.5): outside is p < 1e-4
    rows = wait_stored(serving_pg_url, logged)
    for rid, (arm, version) in logged.items():
        assert (rows[rid]["arm"], rows[rid]["model_version"]) == (arm, version)
        assert version == ("2" if arm == "challenger" else "1")
        assert rows[rid]["entity_key"] == rid.split("-")[1]


def test_store_outage_under_load_loses_no_row(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    deploy(server_project, serving_pg_url, "outage", artifacts.v1, server)
    ids = [f"outage-{i}-{uuid.uuid4().hex[:6]}" for i in range(150)]
    set_store_reachable(serving_pg_url, False)
    try:
        with httpx.Client() as client:
            for i, rid in enumerate(ids):
                response = infer(
                    client, server, request_body(artifacts.frame.iloc[i], rid), "outage"
                )
                assert response.status_code == 200, response.text
    finally:
        set_store_reachable(serving_pg_url, True)
    rows = wait_stored(serving_pg_url, ids, timeout=30)
    assert set(rows) == set(ids)


def test_answered_predictions_survive_kill_9_and_are_replayed_at_restart(
    tmp_path: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    config = project_config(tmp_path, serving_pg_url, "crash")
    # A flush interval far longer than the test: whatever is stored later came from the spool.
    config.serving.log_flush_seconds = 600
    deploy_model(config, artifacts.v1)
    process = ServingProcess.from_config(config)
    process.start().wait_ready(90)
    spool = spool_dir_for(config)
    # The shipper has looked at the spool once; its next look is 600 s away.
    assert wait_for(lambda: int((read_status(spool) or {}).get("passes", 0)) >= 1, 30)  # type: ignore[call-overload]
    answered: list[str] = []
    stop = threading.Event()
    body = request_body(artifacts.frame.iloc[2])

    def client_loop(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            n = 0
            while not stop.is_set():
                rid = f"crash-{worker}-{n}-{uuid.uuid4().hex[:6]}"
                n += 1
                try:
                    response = infer(client, process, {**body, "id": rid}, "crash")
                except httpx.HTTPError:
                    continue  # the server died mid-request: not answered, not counted
                if response.status_code == 200:
                    answered.append(rid)

    threads = [threading.Thread(target=client_loop, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        threading.Event().wait(1.5)
        process.kill()  # MLServer and its log shipper: the whole container dies
    finally:
        stop.set()
        for t in threads:
            t.join()
        process.stop()
    assert len(answered) > 50
    assert stored_rows(serving_pg_url, answered) == {}, "rows reached the store before the kill"

    config.serving.log_flush_seconds = 0.1
    deploy_model(config, artifacts.v1)
    restarted = ServingProcess.from_config(config)
    with restarted:
        rows = wait_stored(serving_pg_url, answered, timeout=30)
    assert set(answered) - set(rows) == set()


def test_sigterm_delivers_pending_rows_before_exiting(
    tmp_path: Path, serving_pg_url: str, artifacts: Artifacts
) -> None:
    config = project_config(tmp_path, serving_pg_url, "graceful")
    config.serving.log_flush_seconds = 600
    deploy_model(config, artifacts.v1)
    process = ServingProcess.from_config(config)
    ids = [f"term-{i}-{uuid.uuid4().hex[:6]}" for i in range(30)]
    with process, httpx.Client() as client:
        for i, rid in enumerate(ids):
            assert (
                infer(
                    client, process, request_body(artifacts.frame.iloc[i], rid), "graceful"
                ).status_code
                == 200
            )
    assert set(stored_rows(serving_pg_url, ids)) == set(ids)
