"""Property test: whatever a client sends, the write endpoints answer 2xx or a 4xx that
names the field, never a 5xx (real server, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from decayguard.api import create_app
from decayguard.store import insert_predictions

from .api_support import AUTH, TASK_MODELS, project_config, serve, task_predictions

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is a dev dependency")
st = hypothesis.strategies

text = st.text(max_size=30) | st.sampled_from(["req-0000", "req-0001", "a\x00b", "", " "])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
    | st.sampled_from(["12.5", "NaN", "-inf", "1e999", "1_000", "0x1p3"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
label_keys = st.sampled_from(
    ["prediction_id", "entity_key", "event_time", "value", "model_name", "colour"]
)
labels = st.dictionaries(label_keys, json_values | st.just("2026-11-02T01:00:00Z"), max_size=5)
label_bodies = st.fixed_dictionaries(
    {"labels": st.lists(labels, max_size=4) | json_values},
    optional={"source": json_values},
)
review_bodies = st.fixed_dictionaries(
    {},
    optional={
        "prediction_id": st.sampled_from(["req-0000", "req-0001", "ghost"]) | json_values,
        "reviewer": text | json_values,
        "status": st.sampled_from(["labeled", "skipped", "done"]) | json_values,
        "value": st.sampled_from(["0", "1", "7", "12.5", "nan"]) | json_values,
    },
)


@pytest.fixture(params=["binary", "regression"])
def client(
    store_url: str, store_engine: Engine, request: pytest.FixtureRequest
) -> Iterator[httpx.Client]:
    """The API of the loan model as a classifier and as a regressor (numeric labels)."""
    insert_predictions(store_engine, task_predictions(request.param, 4))
    app = create_app(
        project_config(store_url, model=TASK_MODELS[request.param]), engine=store_engine
    )
    with serve(app) as base, httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
        yield http


def _check(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code == 422:
        assert answer.json()["field"], answer.text


SETTINGS = hypothesis.settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
    derandomize=True,
)


@SETTINGS
@hypothesis.given(body=label_bodies)
@hypothesis.example(body={"labels": [{"prediction_id": "a\x00b", "value": "1"}]})
@hypothesis.example(
    body={"labels": [{"entity_key": "\x00", "event_time": "2026-11-02", "value": "1"}]}
)
@hypothesis.example(
    body={"labels": [{"prediction_id": "req-0000", "value": "1"}], "source": "\x00"}
)
@hypothesis.example(body={"labels": [{"prediction_id": "x" * 65, "value": "1"}]})
@hypothesis.example(body={"labels": [{"prediction_id": "req-0000", "value": "1" * 201}]})
def test_label_endpoint_never_answers_5xx(client: httpx.Client, body: dict[str, Any]) -> None:
    _check(client.post("/api/v1/labels", json=body))


@SETTINGS
@hypothesis.given(body=review_bodies)
@hypothesis.example(body={"prediction_id": "a\x00b", "reviewer": "ann", "status": "skipped"})
@hypothesis.example(body={"prediction_id": "req-0000", "reviewer": "\x00", "status": "skipped"})
@hypothesis.example(
    body={"prediction_id": "req-0000", "reviewer": "a", "status": "labeled", "value": "\x00"}
)
def test_review_endpoint_never_answers_5xx(client: httpx.Client, body: dict[str, Any]) -> None:
    _check(client.post("/api/v1/reviews", json=body))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/labels/a%00b",
        "/api/v1/reviews/a%00b",
        "/api/v1/reviews/queue?exclude=a%00b",
        "/api/v1/performance/realized?start=2026-11-02T00:00:00%00&end=2026-11-03",
    ],
)
def test_reads_with_nul_characters_are_4xx(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert 400 <= answer.status_code < 500, answer.text
