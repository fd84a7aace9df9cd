"""V2 requests that MLServer itself accepts, replayed through a real ``mlserver start``."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from decayguard.errors import InputValidationError
from decayguard.sim import (
    FEATURE_NAMES,
    Simulation,
    replay_traffic,
    replay_traffic_async,
    to_v2_batch_request,
    to_v2_request,
)

from .conftest import SERVE_BIN, SKLEARN_MODEL_NAME, Served

_DECODE_IN_SERVING_ENV = """
import json, sys
from mlserver.codecs import PandasCodec
from mlserver.types import InferenceRequest
out = []
for body in json.load(open(sys.argv[1])):
    request = InferenceRequest.model_validate(body)
    frame = PandasCodec.decode_request(request)
    params = request.parameters.model_dump(exclude_none=True)
    out.append({"id": request.id, "params": params, "columns": list(frame.columns),
                "dtypes": [str(t) for t in frame.dtypes],
                "rows": frame.astype(object).values.tolist()})
print(json.dumps(out))
"""


def _single(row: pd.Series) -> dict[str, object]:
    return to_v2_request(
        row.to_dict(),
        row["request_id"],
        row["event_timestamp"],
        entity_key=int(row["applicant_id"]),
    )


def test_requests_validate_and_decode_in_mlserver(simulation: Simulation, tmp_path: Path) -> None:
    rows = simulation.live_frame().head(40)
    bodies = [_single(row) for _, row in rows.iterrows()]
    bodies.append(to_v2_batch_request(rows, "batch-1", outputs=("predict_proba",)))
    (tmp_path / "bodies.json").write_text(json.dumps(bodies))
    done = subprocess.run(
        [str(SERVE_BIN / "python"), "-c", _DECODE_IN_SERVING_ENV, str(tmp_path / "bodies.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    decoded = json.loads(done.stdout)
    columns = [*FEATURE_NAMES, "applicant_id"]
    expected_rows = rows[columns].astype(object).values.tolist()
    for (_, row), got in zip(rows.iterrows(), decoded[:-1], strict=True):
        assert got["id"] == row["request_id"]
        assert got["columns"] == columns
        assert got["dtypes"] == ["float64"] * 5 + ["object", "int64"]
        assert got["params"] == {
            "content_type": "pd",
            "event_time": row["event_timestamp"].isoformat(),
        }
        assert datetime.fromisoformat(got["params"]["event_time"]) == row["event_timestamp"]
    for got, expected in zip(decoded[:-1], expected_rows, strict=True):
        assert got["rows"] == [expected]
    batch = decoded[-1]
    assert batch["id"] == "batch-1"
    assert batch["rows"] == expected_rows
    assert batch["params"]["prediction_ids"] == rows["request_id"].tolist()
    times = [datetime.fromisoformat(t) for t in batch["params"]["event_times"]]
    assert times == rows["event_timestamp"].tolist()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"income": float("nan")}, "income"),
        ({"age": "forty"}, "age"),
        ({"credit_lines": True}, "credit_lines"),
        ({"employment": 3}, "employment"),
        ({"employment": ""}, "employment"),
    ],
)
def test_bad_rows_are_refused_naming_the_field(
    simulation: Simulation, change: dict[str, object], field: str
) -> None:
    row = {**simulation.frame.iloc[0][list(FEATURE_NAMES)].to_dict(), **change}
    with pytest.raises(InputValidationError) as error:
        to_v2_request(row, "r-1", simulation.scenario.start)
    assert error.value.field == field


def test_missing_feature_and_naive_time_are_refused(simulation: Simulation) -> None:
    row = simulation.frame.iloc[0][list(FEATURE_NAMES)].to_dict()
    with pytest.raises(InputValidationError) as missing:
        to_v2_request({k: v for k, v in row.items() if k != "debt_ratio"}, "r-1", None)
    assert missing.value.field == "debt_ratio"
    with pytest.raises(InputValidationError) as naive:
        to_v2_request(row, "r-1", datetime(2026, 10, 5))
    assert naive.value.field == "event_time"
    with pytest.raises(InputValidationError):
        to_v2_batch_request(simulation.frame.head(0), "b-0")


def test_replay_through_mlserver_matches_the_model(
    simulation: Simulation, champion: Pipeline, served: Served
) -> None:
    rows = simulation.live_frame().iloc[1000:1400]
    report = replay_traffic(
        served.url, SKLEARN_MODEL_NAME, rows, concurrency=4, outputs=("predict", "predict_proba")
    )
    assert report.sent == len(rows)
    assert report.failures == 0
    frame = report.to_frame()
    assert frame["request_id"].tolist() == rows["request_id"].tolist()
    assert frame["prediction_id"].tolist() == rows["request_id"].tolist()  # MLServer kept ids
    expected = champion.predict(rows[list(FEATURE_NAMES)])
    assert frame["prediction"].astype(int).tolist() == expected.tolist()
    proba = np.array([r.outputs["predict_proba"] for r in report.results])
    np.testing.assert_allclose(proba, champion.predict_proba(rows[list(FEATURE_NAMES)]), atol=1e-9)

    batched = replay_traffic(served.url, SKLEARN_MODEL_NAME, rows, concurrency=2, batch_size=32)
    assert batched.failures == 0
    assert [r.request_id for r in batched.results] == rows["request_id"].tolist()
    assert [r.prediction for r in batched.results] == [r.prediction for r in report.results]
    # The built-in runtime has no per-row prediction_id output: unknown in a batch.
    assert {r.prediction_id for r in batched.results} == {None}


def test_mlserver_keeps_the_simulator_request_id(simulation: Simulation, served: Served) -> None:
    row = simulation.live_frame().iloc[7]
    answer = httpx.post(f"{served.url}/v2/models/{SKLEARN_MODEL_NAME}/infer", json=_single(row))
    assert answer.status_code == 200
    assert answer.json()["id"] == row["request_id"]


def test_replay_counts_failures_without_raising(simulation: Simulation, served: Served) -> None:
    rows = simulation.live_frame().head(20)
    unknown = replay_traffic(served.url, "no-such-model", rows, concurrency=2)
    assert unknown.failures == len(rows)
    assert {r.status_code for r in unknown.results} == {404}
    assert all(r.attempts == 1 and r.error for r in unknown.results)

    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    refused = replay_traffic(closed, SKLEARN_MODEL_NAME, rows.head(3), retries=1, timeout=2)
    assert refused.failures == 3
    assert {(r.status_code, r.attempts) for r in refused.results} == {(0, 2)}


def test_replay_retries_unavailable_with_the_same_id(simulation: Simulation) -> None:
    """The retry policy, against an in-memory twin of the endpoint (503 twice, then 200)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body["id"])
        if len(seen) < 3:
            return httpx.Response(503, text="warming up")
        return httpx.Response(
            200,
            json={
                "id": body["id"],
                "outputs": [{"name": "predict", "datatype": "INT64", "shape": [1, 1], "data": [1]}],
            },
        )

    rows = simulation.live_frame().head(1)
    report = replay_traffic(
        "http://sim", SKLEARN_MODEL_NAME, rows, transport=httpx.MockTransport(handler)
    )
    assert seen == [rows["request_id"].iloc[0]] * 3
    assert report.failures == 0
    assert report.results[0].attempts == 3
    assert report.results[0].prediction == 1


def test_replay_refuses_to_nest_event_loops(simulation: Simulation) -> None:
    rows = simulation.live_frame().head(1)

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="replay_traffic_async"):
            replay_traffic("http://127.0.0.1:9", SKLEARN_MODEL_NAME, rows)
        assert asyncio.iscoroutinefunction(replay_traffic_async)

    asyncio.run(inside())
