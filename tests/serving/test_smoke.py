"""The challenger's smoke test on a real ``mlserver start`` (the session's server)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from decayguard.config import DecayguardConfig, GateConfig
from decayguard.errors import ServiceError
from decayguard.processes import free_port
from decayguard.registry import ArtifactManifest, export_model
from decayguard.registry.manifest import sha256_file
from decayguard.serving import ServingProcess, models_dir_for
from decayguard.serving.smoke import (
    CHALLENGER_SUFFIX,
    CHAMPION_SUFFIX,
    SmokeResult,
    answer_problem,
    judge,
    smoke_test,
)
from decayguard.store import create_store_engine
from decayguard.store.deployments import record_deployment
from decayguard.store.predictions import count_predictions

from .conftest import Artifacts
from .helpers import SCHEMA, applicants, project_config, request_body, wait_stored

MODEL = "credit-default"
SCRATCH = (MODEL + CHALLENGER_SUFFIX, MODEL + CHAMPION_SUFFIX)


@pytest.fixture(scope="module")
def smoke_cfg(
    server: ServingProcess, server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> DecayguardConfig:
    """The session server's project, with a recorded champion (v1) and logged traffic."""
    base = project_config(server_project, serving_pg_url)
    # Loose latency limits: on a shared 2-core machine a p99 of 30 requests is one tail
    # sample; the latency test sets its own limit. Tests assert behaviour, not speed.
    gate = GateConfig(smoke_requests=30, max_latency_ms=5000, max_latency_ratio=20)
    cfg = base.model_copy(update={"gate": gate})
    engine = create_store_engine(serving_pg_url)
    try:
        sha = ArtifactManifest.read(artifacts.v1).sha256
        record_deployment(engine, MODEL, "1", artifact_uri=str(artifacts.v1), artifact_sha256=sha)
    finally:
        engine.dispose()
    ids = [f"smoke-traffic-{i}" for i in range(40)]
    with httpx.Client() as client:
        for i, request_id in enumerate(ids):
            body = request_body(artifacts.frame.iloc[100 + i], request_id)
            response = client.post(f"{server.url}/v2/models/{MODEL}/infer", json=body)
            assert response.status_code == 200, response.text
    assert len(wait_stored(serving_pg_url, ids)) == len(ids)
    return cfg


def _counts(url: str) -> tuple[int, int]:
    engine = create_store_engine(url)
    try:
        scratch = sum(count_predictions(engine, name) for name in SCRATCH)
        return count_predictions(engine), scratch
    finally:
        engine.dispose()


def _assert_scratch_gone(cfg: DecayguardConfig, server: ServingProcess) -> None:
    with httpx.Client() as client:
        for name in SCRATCH:
            ready = client.get(f"{server.url}/v2/models/{name}/ready")
            assert ready.status_code != 200, f"{name} is still loaded"
            assert not (models_dir_for(cfg) / name).exists()


def _champion_answers(server: ServingProcess, artifacts: Artifacts) -> None:
    body = request_body(artifacts.frame.iloc[7])
    response = httpx.post(f"{server.url}/v2/models/{MODEL}/infer", json=body)
    assert response.status_code == 200, response.text


def test_a_good_challenger_passes_on_logged_requests_and_logs_nothing(
    smoke_cfg: DecayguardConfig, server: ServingProcess, serving_pg_url: str, artifacts: Artifacts
) -> None:
    before = _counts(serving_pg_url)
    result = smoke_test(smoke_cfg, artifacts.v2, server_url=server.url)
    assert result.passed, result
    assert result.n_requests == 30
    assert result.n_errors == 0
    assert result.champion_p99_ms is not None
    assert result.champion_p99_ms > 0
    assert result.challenger_p99_ms is not None
    assert result.challenger_p99_ms > 0
    assert result.ratio == pytest.approx(result.challenger_p99_ms / result.champion_p99_ms)
    assert result.to_dict()["challenger_p99_ms"] == result.challenger_p99_ms
    print(
        f"\np99 champion {result.champion_p99_ms:.2f} ms, "
        f"challenger {result.challenger_p99_ms:.2f} ms, ratio {result.ratio:.2f}; "
        f"p50 {result.champion_p50_ms:.2f} / {result.challenger_p50_ms:.2f} ms"
    )
    time.sleep(1.0)  # the shipper flushes every 0.1 s: anything logged would be there now
    assert _counts(serving_pg_url) == before
    assert before[1] == 0
    _assert_scratch_gone(smoke_cfg, server)


def _tampered(artifacts: Artifacts, folder: Path, *, rehash: bool) -> Path:
    shutil.copytree(artifacts.v2, folder)
    path = folder / "model.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if rehash:  # a manifest that agrees with the damage: only loading it can tell
        manifest = ArtifactManifest.read(folder)
        manifest.model_copy(update={"sha256": sha256_file(path)}).write(folder)
    return folder


@pytest.mark.parametrize(
    ("rehash", "expected"), [(False, "SHA-256"), (True, "MLServer refused it")]
)
def test_a_corrupted_artifact_fails_to_load_and_the_champion_keeps_serving(
    smoke_cfg: DecayguardConfig,
    server: ServingProcess,
    artifacts: Artifacts,
    tmp_path: Path,
    rehash: bool,
    expected: str,
) -> None:
    broken = _tampered(artifacts, tmp_path / "broken", rehash=rehash)
    result = smoke_test(
        smoke_cfg, broken, server_url=server.url, requests=artifacts.frame.iloc[:10]
    )
    assert not result.passed
    assert result.reason.startswith("the challenger failed to load"), result.reason
    assert expected in result.reason, result.reason
    _champion_answers(server, artifacts)
    _assert_scratch_gone(smoke_cfg, server)


def _other_schema(kind: str, folder: Path) -> Path:
    from sklearn.linear_model import Ridge

    from .helpers import sklearn_pipeline

    frame, label = applicants(300, seed=5)
    if kind == "regressor":
        model = sklearn_pipeline()
        model.steps[-1] = ("clf", Ridge())
        model.fit(frame, frame.debt_ratio * 10)
    else:  # a classifier of other classes
        model = sklearn_pipeline().fit(frame, label.map({"0": "no", "1": "yes"}))
    export_model(model, folder, model_name=MODEL, model_version="9", features=SCHEMA)
    return folder


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("regressor", "output schema"), ("other-classes", "not among the champion's")],
)
def test_a_challenger_with_another_output_schema_fails_naming_it(
    smoke_cfg: DecayguardConfig,
    server: ServingProcess,
    artifacts: Artifacts,
    tmp_path: Path,
    kind: str,
    expected: str,
) -> None:
    folder = _other_schema(kind, tmp_path / kind)
    result = smoke_test(
        smoke_cfg, folder, server_url=server.url, requests=artifacts.frame.iloc[:10]
    )
    assert not result.passed
    assert result.n_errors == 10
    assert expected in result.reason, result.reason
    assert len(result.errors) == 5
    _assert_scratch_gone(smoke_cfg, server)


def test_a_too_slow_challenger_fails_naming_latency(
    smoke_cfg: DecayguardConfig, server: ServingProcess, artifacts: Artifacts
) -> None:
    cfg = smoke_cfg.model_copy(update={"gate": GateConfig(max_latency_ms=0.001)})
    result = smoke_test(cfg, artifacts.v2, server_url=server.url, requests=artifacts.frame[:10])
    assert not result.passed
    assert result.n_errors == 0
    assert "latency" in result.reason
    assert "gate.max_latency_ms" in result.reason
    assert isinstance(result, SmokeResult)
    _assert_scratch_gone(cfg, server)


def test_an_unreachable_server_raises_and_leaves_no_scratch_folder(
    smoke_cfg: DecayguardConfig, artifacts: Artifacts
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceError, match="unreachable"):
        smoke_test(smoke_cfg, artifacts.v2, server_url=nobody, requests=artifacts.frame[:3])
    assert not any((models_dir_for(smoke_cfg) / name).exists() for name in SCRATCH)


def _response(outputs: list[dict[str, object]], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"model_name": MODEL, "outputs": outputs})


def _binary(predict: list[object], score: list[object]) -> httpx.Response:
    return _response(
        [
            {"name": "prediction_id", "datatype": "BYTES", "shape": [1], "data": ["a"]},
            {"name": "predict", "datatype": "BYTES", "shape": [1], "data": predict},
            {"name": "score", "datatype": "FP64", "shape": [1], "data": score},
        ]
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_binary(["1"], [0.7]), None),
        (_binary(["1"], [None]), "non-finite"),  # what NaN becomes in JSON
        (_binary(["1"], [1.5]), "not probabilities"),
        (_binary(["maybe"], [0.5]), "not among the champion's"),
        (httpx.Response(422, json={"error": "input 'age': bad"}), "HTTP 422: input 'age'"),
    ],
)
def test_answer_validity_against_the_champion(answer: httpx.Response, expected: str | None) -> None:
    problem = answer_problem(answer, _binary(["0"], [0.2]), ["0", "1"])
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert expected in problem


def test_multiclass_probabilities_must_sum_to_one() -> None:
    def proba(rows: list[float]) -> httpx.Response:
        return _response(
            [{"name": "predict_proba", "datatype": "FP64", "shape": [1, 3], "data": rows}]
        )

    champion = proba([0.2, 0.3, 0.5])
    assert answer_problem(proba([0.1, 0.1, 0.8]), champion, ["a", "b", "c"]) is None
    problem = answer_problem(proba([0.1, 0.1, 0.1]), champion, ["a", "b", "c"])
    assert problem is not None
    assert "sum to" in problem


def test_the_verdict_on_latency_and_errors() -> None:
    gate = GateConfig(max_latency_ms=50, max_latency_ratio=2.0)
    fast = [1.0] * 95 + [2.0] * 5  # p99 2 ms
    assert judge(gate, 100, [], fast, fast).passed
    slower = judge(gate, 100, [], fast, [1.0] * 95 + [5.0] * 5)  # p99 5 ms: 2.5x
    assert not slower.passed
    assert "gate.max_latency_ratio" in slower.reason
    assert slower.ratio == pytest.approx(2.5)
    assert slower.challenger_p50_ms == 1.0
    too_slow = judge(gate, 100, [], [60.0] * 100, [60.0] * 100)
    assert "gate.max_latency_ms" in too_slow.reason
    errors = [f"request {i}: HTTP 422" for i in range(7)]
    broken = judge(gate, 100, errors, fast, fast)
    assert not broken.passed
    assert broken.n_errors == 7
    assert len(broken.errors) == 5
    assert broken.reason.startswith("7 of 100 answers invalid")
