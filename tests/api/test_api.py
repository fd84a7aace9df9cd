"""The control API over real HTTP (uvicorn), against SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from decayguard.store import PredictionRecord, current_labels, review_history

from .api_support import AUTH, MODEL, TOKEN, ApiFactory


def test_openapi_schema_lists_every_route_and_protects_writes(api: ApiFactory) -> None:
    schema = api().get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/labels",
        "/api/v1/labels/{prediction_id}",
        "/api/v1/reviews",
        "/api/v1/reviews/queue",
        "/api/v1/reviews/progress",
        "/api/v1/performance/realized",
        "/api/v1/performance/reviewed",
        "/healthz",
    ):
        assert path in paths, path
    assert paths["/api/v1/labels"]["post"]["security"] == [{"bearer": []}]
    assert paths["/api/v1/reviews"]["post"]["security"] == [{"bearer": []}]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    invalid = paths["/api/v1/labels"]["post"]["responses"]["422"]
    assert invalid["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


def test_writes_need_the_bearer_token(api: ApiFactory, seeded: list[PredictionRecord]) -> None:
    client = api()
    body = {"labels": [{"prediction_id": seeded[0].id, "value": "1"}]}
    missing = client.post("/api/v1/labels", json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = client.post("/api/v1/labels", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "invalid bearer token" in wrong.json()["error"]
    assert client.post("/api/v1/labels", json=body, headers=AUTH).status_code == 200
    assert client.get("/api/v1/reviews/progress").status_code == 200  # reads open by default


def test_without_a_configured_token_writes_are_refused_not_open(
    api: ApiFactory, seeded: list[PredictionRecord]
) -> None:
    client = api(token=None)
    answer = client.post(
        "/api/v1/labels", json={"labels": [{"prediction_id": seeded[0].id, "value": "1"}]}
    )
    assert answer.status_code == 403
    assert "api.token" in answer.json()["error"]


def test_reads_can_be_protected_by_config(api: ApiFactory, seeded: list[PredictionRecord]) -> None:
    client = api(protect_reads=True)
    assert client.get("/api/v1/reviews/queue").status_code == 401
    assert client.get("/api/v1/reviews/queue", headers=AUTH).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_label_delivery_accounts_for_every_label(
    api: ApiFactory, seeded: list[PredictionRecord], store_engine: Engine
) -> None:
    client = api()
    first = client.post(
        "/api/v1/labels",
        headers=AUTH,
        json={
            "source": "crm-export",
            "labels": [
                {"prediction_id": seeded[0].id, "value": 1},
                {"prediction_id": seeded[1].id, "value": "0"},
                {"prediction_id": "never-served", "value": "1"},
                {"entity_key": 5003, "event_time": "2026-12-24T00:00:00Z", "value": "1"},
                {"entity_key": 9999, "event_time": "2026-12-24T00:00:00Z", "value": "0"},
            ],
        },
    ).json()
    assert first["received"] == 5
    assert first["inserted"] == 4
    assert first["unknown_prediction_ids"] == ["never-served"]
    assert first["unmatched_entity_labels"] == ["e:9999@2026-12-24T00:00:00+00:00"]

    again = client.post(
        "/api/v1/labels",
        headers=AUTH,
        json={"labels": [{"prediction_id": seeded[0].id, "value": "1"}]},
    ).json()
    assert (again["inserted"], again["corrected"]) == (0, 0)
    assert again["duplicates"] == [f"p:{seeded[0].id}"]

    fixed = client.post(
        "/api/v1/labels",
        headers=AUTH,
        json={"labels": [{"prediction_id": seeded[0].id, "value": "0"}]},
    ).json()
    assert fixed["corrected"] == 1

    label = client.get(f"/api/v1/labels/{seeded[0].id}").json()
    assert label["current"] == "0"
    assert [v["value"] for v in label["history"]] == ["1", "0"]
    assert label["history"][0]["source"] == "crm-export"
    joined = current_labels(store_engine, MODEL).dropna(subset=["prediction_id"])
    assert seeded[3].id in set(joined["prediction_id"])  # the entity label found its prediction
    assert client.get("/api/v1/labels/never-served").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labels": [{"prediction_id": "req-0000"}]}, "labels[0].value"),
        ({"labels": [{"prediction_id": "req-0000", "value": "yes"}]}, "labels[0].value"),
        ({"labels": [{"value": "1"}]}, "labels[0].prediction_id"),
        ({"labels": [{"entity_key": "5001", "value": "1"}]}, "labels[0].event_time"),
        (
            {"labels": [{"entity_key": "5001", "event_time": "someday", "value": "1"}]},
            "labels[0].event_time",
        ),
        (
            {"labels": [{"prediction_id": "req-0000", "value": "1", "colour": "red"}]},
            "labels[0].colour",
        ),
        ({"labels": []}, "labels"),
        ({"rows": []}, "labels"),
        (
            {"labels": [{"prediction_id": "req-0000", "value": "1"}, {"value": None}]},
            "labels[1].value",
        ),
    ],
)
def test_bad_label_payloads_get_a_422_naming_the_field_and_store_nothing(
    api: ApiFactory,
    seeded: list[PredictionRecord],
    store_engine: Engine,
    body: dict[str, Any],
    field: str,
) -> None:
    answer = api().post("/api/v1/labels", headers=AUTH, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert field in answer.json()["error"]
    assert current_labels(store_engine, MODEL).empty


def test_malformed_json_is_a_422_not_a_500(api: ApiFactory) -> None:
    answer = api().post(
        "/api/v1/labels",
        headers={**AUTH, "Content-Type": "application/json"},
        content=b'{"labels": [',
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "body"
    assert "not valid JSON" in answer.json()["error"]


def test_review_queue_round_trip(
    api: ApiFactory, seeded: list[PredictionRecord], store_engine: Engine
) -> None:
    client = api()
    queue = client.get("/api/v1/reviews/queue", params={"limit": 3}).json()
    assert [i["prediction_id"] for i in queue["items"]] == [r.id for r in seeded[0:6:2]]
    assert queue["items"][0]["inputs"]["employment"] == "salaried"
    assert queue["progress"] == {
        "sampled": 10,
        "labeled": 0,
        "skipped": 0,
        "reviewed": 0,
        "pending": 10,
    }
    assert queue["answer"] == "choice"
    assert queue["label_values"] == ["0", "1"]

    done = client.post(
        "/api/v1/reviews",
        headers=AUTH,
        json={"prediction_id": seeded[0].id, "reviewer": "ann", "status": "labeled", "value": "1"},
    )
    assert done.status_code == 201
    assert done.json()["progress"]["labeled"] == 1
    skipped = client.post(
        "/api/v1/reviews",
        headers=AUTH,
        json={"prediction_id": seeded[2].id, "reviewer": "ann", "status": "skipped"},
    )
    assert skipped.json()["progress"]["pending"] == 8
    nxt = client.get("/api/v1/reviews/queue").json()["items"][0]
    assert nxt["prediction_id"] == seeded[4].id
    history = client.get(f"/api/v1/reviews/{seeded[0].id}").json()
    assert [(h["reviewer"], h["value"]) for h in history] == [("ann", "1")]
    assert len(review_history(store_engine, seeded[2].id)) == 1


def test_reviewers_asking_at_once_get_different_predictions(
    api: ApiFactory, seeded: list[PredictionRecord]
) -> None:
    client = api()
    first = client.get("/api/v1/reviews/queue", params={"reviewer": "ann"}).json()
    second = client.get("/api/v1/reviews/queue", params={"reviewer": "bob"}).json()
    assert first["items"][0]["prediction_id"] == seeded[0].id
    assert second["items"][0]["prediction_id"] == seeded[2].id
    again = client.get("/api/v1/reviews/queue", params={"reviewer": "ann"}).json()
    assert again["items"][0]["prediction_id"] == seeded[0].id


@pytest.mark.parametrize(
    ("review", "code", "field"),
    [
        ({"prediction_id": "ghost", "status": "skipped"}, 404, "prediction_id"),
        ({"prediction_id": "req-0001", "status": "skipped"}, 422, "prediction_id"),
        ({"prediction_id": "req-0000", "status": "labeled"}, 422, "value"),
        ({"prediction_id": "req-0000", "status": "labeled", "value": "7"}, 422, "value"),
        ({"prediction_id": "req-0000", "status": "done"}, 422, "status"),
        ({"prediction_id": "req-0000", "status": "skipped", "reviewer": ""}, 422, "reviewer"),
    ],
)
def test_bad_reviews_are_refused_with_the_field(
    api: ApiFactory,
    seeded: list[PredictionRecord],
    review: dict[str, str],
    code: int,
    field: str,
) -> None:
    body = {"reviewer": "ann", **review}
    answer = api().post("/api/v1/reviews", headers=AUTH, json=body)
    assert answer.status_code == code, answer.text
    assert answer.json()["field"] == field


def test_performance_from_reviews_and_from_labels(
    api: ApiFactory, seeded: list[PredictionRecord]
) -> None:
    client = api()
    sampled = [r for r in seeded if r.review_sampled]
    for r in sampled[:6]:
        client.post(
            "/api/v1/reviews",
            headers=AUTH,
            json={"prediction_id": r.id, "reviewer": "ann", "status": "labeled", "value": "0"},
        ).raise_for_status()
    reviewed = client.get("/api/v1/performance/reviewed").json()
    weights = [1 / (r.inclusion_prob or 1) for r in sampled[:6]]
    correct = [r.prediction == "0" for r in sampled[:6]]
    expected = sum(w * c for w, c in zip(weights, correct, strict=True)) / sum(weights)
    accuracy = reviewed["metrics"]["accuracy"]
    assert accuracy["value"] == pytest.approx(expected)
    assert accuracy["method"] == "hajek"
    assert accuracy["weighted"] is True
    assert accuracy["lower"] <= accuracy["value"] <= accuracy["upper"]
    assert reviewed["naive_accuracy"] == pytest.approx(sum(correct) / 6)

    labels = [{"prediction_id": r.id, "value": r.prediction} for r in seeded[:12]]
    client.post("/api/v1/labels", headers=AUTH, json={"labels": labels}).raise_for_status()
    windows = client.get(
        "/api/v1/performance/realized",
        params={"start": "2026-11-02T00:00:00Z", "end": "2026-11-02T04:00:00Z", "window_hours": 2},
    ).json()
    assert [(w["predictions"], w["labeled"]) for w in windows] == [(12, 12), (8, 0)]
    assert [w["coverage"] for w in windows] == [1.0, 0.0]
    assert [w["provisional"] for w in windows] == [False, True]
    assert windows[0]["metrics"]["accuracy"]["value"] == 1.0
    assert windows[1]["metrics"] == {}
    champion_only = client.get(
        "/api/v1/performance/realized",
        params={"start": "2026-11-02T00:00:00Z", "end": "2026-11-02T02:00:00Z", "arm": "champion"},
    ).json()
    assert champion_only[0]["labeled"] == 12
    bad_arm = client.get("/api/v1/performance/reviewed", params={"arm": "a b"})
    assert bad_arm.status_code == 422
    assert bad_arm.json()["field"] == "arm"

    bad = client.get(
        "/api/v1/performance/realized",
        params={"start": "2026-11-03T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "end"
    missing = client.get("/api/v1/performance/realized", params={"start": "2026-11-03"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "end"


def test_review_page_and_assets_are_served_without_outside_references(api: ApiFactory) -> None:
    client = api()
    page = client.get("/review")
    assert page.status_code == 200
    assert MODEL in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text  # no CDN
    assert "https://" not in page.text
    assert TOKEN not in page.text  # the token is typed by the reviewer, never embedded
    script = client.get("/static/review.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/secrets.txt").status_code == 404
    assert client.get("/", follow_redirects=False).headers["location"] == "/review"
