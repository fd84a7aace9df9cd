"""Labels and reviews over HTTP for a regressor and a multiclass model, as for binary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from decayguard.store import (
    PredictionRecord,
    current_labels,
    insert_predictions,
    review_history,
)

from .api_support import (
    AUTH,
    GRADES,
    MODEL,
    TASK_MODELS,
    ApiFactory,
    deploy_champion,
    task_predictions,
)


def _seed(engine: Engine, task: str) -> list[PredictionRecord]:
    records = task_predictions(task, 20)
    insert_predictions(engine, records)
    return records


def test_regression_labels_are_numbers_and_a_bad_one_is_a_422_naming_it(
    api: ApiFactory, store_engine: Engine
) -> None:
    seeded = _seed(store_engine, "regression")
    client = api(model=TASK_MODELS["regression"])
    ok = client.post(
        "/api/v1/labels",
        headers=AUTH,
        json={
            "labels": [
                {"prediction_id": seeded[0].id, "value": 1250.5},
                {"prediction_id": seeded[1].id, "value": "980.25"},
                {"prediction_id": seeded[2].id, "value": 3},
            ]
        },
    )
    assert ok.status_code == 200, ok.text
    stored = current_labels(store_engine, MODEL).set_index("prediction_id")["value"]
    assert stored[[r.id for r in seeded[:3]]].tolist() == ["1250.5", "980.25", "3.0"]

    for bad, message in (("abc", "is not a number"), ("NaN", "is not a finite number")):
        body = {
            "labels": [
                {"prediction_id": seeded[5].id, "value": "10"},
                {"prediction_id": seeded[6].id, "value": bad},
            ]
        }
        answer = client.post("/api/v1/labels", headers=AUTH, json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "labels[1].value"
        assert f"{bad!r} {message}" in answer.json()["error"]
    # Python's JSON reader takes the non-standard Infinity literal: still a 422, not a 500.
    raw = f'{{"labels": [{{"prediction_id": "{seeded[7].id}", "value": Infinity}}]}}'
    answer = client.post(
        "/api/v1/labels", headers={**AUTH, "Content-Type": "application/json"}, content=raw
    )
    assert answer.status_code == 422, answer.text
    assert "'inf' is not a finite number" in answer.json()["error"]
    huge = client.post(  # an integer beyond float range: refused as a number, never a 500
        "/api/v1/labels",
        headers={**AUTH, "Content-Type": "application/json"},
        content=json.dumps({"labels": [{"prediction_id": seeded[7].id, "value": 10**400}]}),
    )
    assert huge.status_code == 422, huge.text
    # All or nothing: the good label next to a bad one was not stored either.
    assert set(current_labels(store_engine, MODEL)["prediction_id"]) == {r.id for r in seeded[:3]}


def test_regression_review_queue_asks_for_a_value_and_checks_it(
    api: ApiFactory, store_engine: Engine
) -> None:
    seeded = _seed(store_engine, "regression")
    client = api(model=TASK_MODELS["regression"])
    queue = client.get("/api/v1/reviews/queue").json()
    assert (queue["answer"], queue["label_values"]) == ("value", [])
    assert queue["items"][0]["prediction"] == seeded[0].prediction
    first = {"prediction_id": seeded[0].id, "reviewer": "ann", "status": "labeled"}
    for bad in ("abc", "inf", ""):
        answer = client.post("/api/v1/reviews", headers=AUTH, json={**first, "value": bad})
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "value"
    done = client.post("/api/v1/reviews", headers=AUTH, json={**first, "value": 1250.50})
    assert done.status_code == 201, done.text
    assert done.json()["value"] == "1250.5"
    as_text = client.post(
        "/api/v1/reviews",
        headers=AUTH,
        json={**first, "prediction_id": seeded[2].id, "value": " 7e2 "},
    )
    assert as_text.json()["value"] == "700.0"
    assert review_history(store_engine, seeded[0].id)["value"].tolist() == ["1250.5"]
    assert review_history(store_engine, seeded[2].id)["value"].tolist() == ["700.0"]


def test_multiclass_classes_come_from_the_champion_and_others_are_refused(
    api: ApiFactory, store_engine: Engine, tmp_path: Path
) -> None:
    seeded = _seed(store_engine, "multiclass")
    deploy_champion(store_engine, tmp_path / "champion", "multiclass", list(GRADES))
    client = api(model=TASK_MODELS["multiclass"])
    queue = client.get("/api/v1/reviews/queue").json()
    assert (queue["answer"], queue["label_values"]) == ("choice", ["A", "B", "C", "D"])

    delivery = {
        "labels": [
            {"prediction_id": seeded[0].id, "value": "B"},
            {"prediction_id": seeded[1].id, "value": "E"},
        ]
    }
    refused = client.post("/api/v1/labels", headers=AUTH, json=delivery)
    assert refused.status_code == 422
    assert refused.json()["field"] == "labels[1].value"
    assert "'E' is not one of the classes ['A', 'B', 'C', 'D']" in refused.json()["error"]
    assert current_labels(store_engine, MODEL).empty
    delivery["labels"] = delivery["labels"][:1]
    assert client.post("/api/v1/labels", headers=AUTH, json=delivery).json()["inserted"] == 1

    review = {"prediction_id": seeded[0].id, "reviewer": "ann", "status": "labeled"}
    wrong = client.post("/api/v1/reviews", headers=AUTH, json={**review, "value": "Z"})
    assert wrong.status_code == 422
    assert (wrong.json()["field"], "'Z'" in wrong.json()["error"]) == ("value", True)
    right = client.post("/api/v1/reviews", headers=AUTH, json={**review, "value": "C"})
    assert right.status_code == 201, right.text


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_configured_label_values_win_over_the_champion(
    api: ApiFactory, store_engine: Engine, tmp_path: Path, task: str
) -> None:
    _seed(store_engine, task)
    deploy_champion(store_engine, tmp_path / "champion", task, ["x", "y"])
    client = api(model=TASK_MODELS[task], feedback={"label_values": ["no", "yes"]})
    assert client.get("/api/v1/reviews/queue").json()["label_values"] == ["no", "yes"]


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_reviewed_performance_weights_the_normalised_reviews_by_1_over_p(
    api: ApiFactory, store_engine: Engine, task: str
) -> None:
    """Reviews sent as typed (``" 4500.5 "``, ``"2e3"``) are stored normalised, so the
    Hajek estimate reads them as the task's truth, each weighted by 1 / p."""
    seeded = _seed(store_engine, task)
    client = api(model=TASK_MODELS[task], feedback={"label_values": list(GRADES)})
    sampled = [r for r in seeded if r.review_sampled][:4]
    truth = ["3000", " 4500.5 ", "2e3", "8000"] if task == "regression" else ["B", "A", "D", "B"]
    for record, value in zip(sampled, truth, strict=True):
        body = {"prediction_id": record.id, "reviewer": "ann", "status": "labeled"}
        answer = client.post("/api/v1/reviews", headers=AUTH, json={**body, "value": value})
        assert answer.status_code == 201, answer.text
    metrics = client.get("/api/v1/performance/reviewed").json()["metrics"]
    w = np.array([1 / float(r.inclusion_prob or 1) for r in sampled])
    if task == "regression":
        predicted = np.array([float(r.prediction or 0) for r in sampled])
        error = np.abs(np.array([float(v) for v in truth]) - predicted)
        assert metrics["mae"]["value"] == pytest.approx(float(np.sum(w * error) / np.sum(w)))
        assert metrics["mae"]["weighted"] is True
    else:
        hit = np.array([r.prediction == v for r, v in zip(sampled, truth, strict=True)])
        assert metrics["accuracy"]["value"] == pytest.approx(float(np.sum(w * hit) / np.sum(w)))
    assert len({float(r.inclusion_prob or 1) for r in sampled}) > 1  # unequal weights
