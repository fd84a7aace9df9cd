"""``/api/v1/releases`` over real HTTP on the real core: validation, the token, 409 for an
illegal move (SQLite and PostgreSQL), and a served world's champion, history and a person's
rollback of a challenger."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from decayguard.api import create_app
from decayguard.api.releases import api_actor
from decayguard.config import load_config
from decayguard.sim.retrain_world import RetrainWorld, build_retrain_world

from .api_support import AUTH, MODEL, TOKEN, ApiFactory, serve

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is a dev dependency")
st = hypothesis.strategies

WRITES = ("/api/v1/releases/promote", "/api/v1/releases/rollback")


def test_openapi_lists_the_release_routes_and_their_409(api: ApiFactory) -> None:
    paths = api().get("/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/releases/status"]
    assert "get" in paths["/api/v1/releases/history"]
    for path in WRITES:
        post = paths[path]["post"]
        assert post["security"] == [{"bearer": []}]
        conflict = post["responses"]["409"]
        assert conflict["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "409" not in paths["/api/v1/labels"]["post"]["responses"]


@pytest.mark.parametrize("path", WRITES)
def test_writes_need_the_token(api: ApiFactory, path: str) -> None:
    client = api()
    body = {"reason": "ship it"}
    missing = client.post(path, json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = client.post(path, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert api(token=None).post(path, json=body, headers=AUTH).status_code == 403


def test_reads_follow_protect_reads(api: ApiFactory) -> None:
    open_reads = api()
    assert open_reads.get("/api/v1/releases/status").status_code == 200
    closed = api(protect_reads=True)
    for path in ("/api/v1/releases/status", "/api/v1/releases/history"):
        assert closed.get(path).status_code == 401
        assert closed.get(path, headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"version": "2"}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 1001}, "reason"),
        ({"reason": "a\x00b"}, "reason"),
        ({"reason": 7}, "reason"),
        ({"reason": "ok", "version": ""}, "version"),
        ({"reason": "ok", "version": "a\x00"}, "version"),
        ({"reason": "ok", "version": "x" * 101}, "version"),
        ({"reason": "ok", "version": 2}, "version"),
        ({"reason": "ok", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_body_is_a_422_naming_the_field(
    api: ApiFactory, body: dict[str, Any], field: str
) -> None:
    client = api()
    for path in WRITES:
        answer = client.post(path, json=body, headers=AUTH)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field, answer.text
        assert answer.json()["error"].startswith(f"{field}: ")


def test_an_illegal_promote_or_rollback_is_a_409_naming_version(api: ApiFactory) -> None:
    client = api()
    promote = client.post(WRITES[0], json={"reason": "ship it"}, headers=AUTH)
    assert promote.status_code == 409, promote.text
    assert promote.json()["field"] == "version"
    assert promote.json()["error"] == f"{MODEL}: no challenger to promote"
    named = client.post(WRITES[0], json={"version": "5", "reason": "ship it"}, headers=AUTH)
    assert named.status_code == 409
    assert named.json()["error"] == f"{MODEL} version 5 is not a release"
    rollback = client.post(WRITES[1], json={"reason": "looks odd"}, headers=AUTH)
    assert rollback.status_code == 409, rollback.text
    assert rollback.json()["field"] == "version"


def test_status_and_history_of_a_model_with_no_release(api: ApiFactory) -> None:
    client = api()
    status = client.get("/api/v1/releases/status")
    assert status.status_code == 200, status.text
    assert status.json() == {
        "model_name": MODEL,
        "champion": None,
        "candidate": None,
        "last_advance": None,
        "unapplied": 0,
    }
    assert client.get("/api/v1/releases/history").json() == []
    assert client.get("/api/v1/releases/history", params={"version": "3"}).json() == []
    bad = client.get("/api/v1/releases/history", params={"version": "a\x00b"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "version"


def test_the_actor_is_a_fingerprint_of_the_token_never_the_token(api: ApiFactory) -> None:
    from decayguard.config import DecayguardConfig

    actor = api_actor(DecayguardConfig(model={"name": "m"}, api={"token": TOKEN}))
    assert actor == f"api:{hashlib.sha256(TOKEN.encode()).hexdigest()[:8]}"
    assert TOKEN not in actor


bodies = st.fixed_dictionaries(
    {},
    optional={
        "version": st.none() | st.text(max_size=5) | st.integers() | st.sampled_from(["1", "2"]),
        "reason": st.none() | st.text(max_size=12) | st.integers() | st.just("a\x00"),
        "extra": st.text(max_size=3),
    },
)


@pytest.fixture
def client(api: ApiFactory) -> httpx.Client:
    return api()


@hypothesis.settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@hypothesis.given(body=bodies, path=st.sampled_from(WRITES))
def test_promote_and_rollback_never_answer_5xx(
    client: httpx.Client, body: dict[str, Any], path: str
) -> None:
    answer = client.post(path, json=body, headers=AUTH)
    assert answer.status_code in (409, 422), answer.text
    assert answer.json()["field"], answer.text


# --- a served world: the champion released by build_retrain_world ---------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> RetrainWorld:
    return build_retrain_world(tmp_path_factory.mktemp("release-api") / "project", until_day=20)


@pytest.fixture(scope="module")
def world_api(world: RetrainWorld) -> Iterator[httpx.Client]:
    cfg = load_config(world.folder)
    with (
        serve(create_app(cfg)) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {cfg.api.token}"}, timeout=60
        ) as client,
    ):
        yield client


@pytest.mark.slow
def test_the_worlds_champion_and_its_history(world: RetrainWorld, world_api: httpx.Client) -> None:
    status = world_api.get("/api/v1/releases/status").json()
    assert status["model_name"] == world.cfg.model.name
    assert status["champion"]["version"] == "1"
    assert status["champion"]["stage"] == "champion"
    assert status["candidate"] is None
    history = world_api.get("/api/v1/releases/history", params={"version": "1"}).json()
    assert [r["to_stage"] for r in history][-1] == "champion"
    assert all(r["version"] == "1" for r in history)
    conflict = world_api.post(WRITES[0], json={"reason": "ship it"})
    assert conflict.status_code == 409
    assert conflict.json()["error"] == f"{world.cfg.model.name}: no challenger to promote"
    only = world_api.post(WRITES[1], json={"reason": "it looks odd"})
    assert only.status_code == 409
    assert "no earlier champion is left to restore" in only.json()["error"]


def _cli(world: RetrainWorld, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "decayguard"), *args],
        cwd=world.folder,
        env={**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


@pytest.mark.slow
def test_a_person_rejects_the_waiting_challenger_through_the_api(
    world: RetrainWorld, world_api: httpx.Client
) -> None:
    retrained = _cli(world, "retrain", "--reason", "test", "--now", world.now.isoformat())
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    assert _cli(world, "gate", "2").returncode == 0, "the gate passes version 2"
    status = world_api.get("/api/v1/releases/status").json()
    assert (status["candidate"]["version"], status["candidate"]["stage"]) == ("2", "validated")

    answer = world_api.post(WRITES[1], json={"version": "2", "reason": "  not this one  "})
    assert answer.status_code == 200, answer.text
    outcome = answer.json()
    actor = api_actor(load_config(world.folder))
    assert outcome["steps"] == [
        {
            "version": "2",
            "action": "reject",
            "from_stage": "validated",
            "to_stage": "rejected",
            "reason": "not this one",
            "actor": actor,
        }
    ]
    assert outcome["champion"] == "1"
    assert outcome["candidate"] is None
    history = world_api.get("/api/v1/releases/history", params={"version": "2"}).json()
    assert [(r["to_stage"], r["actor"]) for r in history][-1] == ("rejected", actor)
    assert [r["id"] for r in history] == sorted(r["id"] for r in history)
    assert all(r["applied_at"] is not None for r in history)
    again = world_api.post(WRITES[0], json={"version": "2", "reason": "changed my mind"})
    assert again.status_code == 409
    assert again.json() == {
        "error": "a rejected version cannot promote",
        "field": "version",
        "detail": "a rejected version cannot promote",
    }
