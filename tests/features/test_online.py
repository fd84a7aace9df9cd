"""Online features on SQLite, PostgreSQL and Redis, in process and through `feast serve`."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from decayguard.errors import InputValidationError, ServiceError
from decayguard.features import FeatureServer, OnlineFeatureClient
from decayguard.features.repo import rows_of
from decayguard.processes import free_port

from .conftest import BACKFILLED, CREATED, FEATURES, KEY, SERVICE, SPOT, Project

BACKENDS = [
    "sqlite_project",
    pytest.param("postgres_project", marks=pytest.mark.postgres),
    "redis_project",
]


def latest_offline(source: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Independent reference: each entity's latest source row at or before ``at``."""
    known = source[source["event_timestamp"] <= at]
    latest = known.sort_values(["event_timestamp", CREATED]).groupby(KEY).tail(1)
    return latest.set_index(KEY)[FEATURES].sort_index()


@pytest.mark.parametrize("backend", BACKENDS)
def test_online_value_equals_latest_offline_value_at_or_before_now(
    backend: str, request: pytest.FixtureRequest
) -> None:
    project: Project = request.getfixturevalue(backend)
    end = project.repo.materialize(end=datetime.now(UTC))
    expected = latest_offline(project.source, pd.Timestamp(end))
    ids = [int(i) for i in sorted(project.source[KEY].unique())]
    online = pd.DataFrame(rows_of(project.repo.online_features([{KEY: i} for i in ids])))
    online = online.set_index(KEY)[FEATURES].sort_index()
    assert len(online) == len(expected) == len(ids)
    pd.testing.assert_frame_equal(online, expected, check_dtype=False)
    # The value dated tomorrow exists offline but is not served yet.
    assert online.loc[SPOT, "income"] == 300.0
    assert online.loc[BACKFILLED, "income"] == 150.0  # the backfill is the latest by date
    assert (project.source["event_timestamp"] > pd.Timestamp(end)).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_entities_get_nulls_and_bad_keys_are_refused(
    backend: str, request: pytest.FixtureRequest
) -> None:
    project: Project = request.getfixturevalue(backend)
    project.repo.materialize()
    answer = project.repo.online_features([{KEY: 987654}])
    assert answer[KEY] == [987654]
    assert all(answer[name] == [None] for name in FEATURES)
    with pytest.raises(InputValidationError) as bad:
        project.repo.online_features([{"applicant_idx": 1}])
    assert bad.value.field == "entity_rows"


def test_feast_serve_answers_what_the_online_store_holds(
    sqlite_project: Project, feature_server: FeatureServer
) -> None:
    ids = [1, 2, 3, SPOT, 987654]
    in_process = sqlite_project.repo.online_features([{KEY: i} for i in ids])
    with OnlineFeatureClient(feature_server.url) as client:
        over_http = client.get(SERVICE, {KEY: ids})
    assert set(over_http) == set(in_process) == {KEY, *FEATURES}
    assert over_http == in_process
    assert over_http["income"][ids.index(SPOT)] == 300.0
    assert over_http["employment"][-1] is None


def test_feast_serve_errors_become_clear_decayguard_errors(feature_server: FeatureServer) -> None:
    with OnlineFeatureClient(feature_server.url) as client:
        with pytest.raises(InputValidationError) as service:
            client.get("no_such_service", {KEY: [1]})
        assert service.value.field == "feature_service"
        with pytest.raises(InputValidationError) as key:
            client.get(SERVICE, {"applicant_idx": [1]})
        assert key.value.field == "entities"
        with pytest.raises(InputValidationError):
            client.get(SERVICE, {KEY: ["not a number"]})
        # The connection survives the server's 500s: the next lookup works.
        assert client.get(SERVICE, {KEY: [SPOT]})["income"] == [300.0]
    with (
        OnlineFeatureClient(f"http://127.0.0.1:{free_port()}", timeout=1.0) as nowhere,
        pytest.raises(ServiceError, match="unreachable"),
    ):
        nowhere.get(SERVICE, {KEY: [1]})


def test_feature_server_that_cannot_start_says_why(tmp_path: object) -> None:
    with pytest.raises(ServiceError, match="exited while starting"):
        FeatureServer(str(tmp_path), port=0).start().wait_ready(timeout=60)


def test_the_serving_runtime_lookup_reads_the_same_values_from_feast_serve(
    sqlite_project: Project, feature_server: FeatureServer
) -> None:
    """Point 3 end to end: the MLServer runtime's own Feast client against real `feast serve`."""
    import asyncio

    from decayguard.serving.features import FeastOnlineClient

    async def lookup() -> dict[str, list[object]]:
        client = FeastOnlineClient(feature_server.url, feature_service=SERVICE)
        try:
            return await client.fetch(KEY, [SPOT, BACKFILLED, 987654])
        finally:
            await client.aclose()

    served = asyncio.run(lookup())
    expected = sqlite_project.repo.online_features([{KEY: SPOT}, {KEY: BACKFILLED}, {KEY: 987654}])
    assert served == expected
    assert served["income"] == [300.0, 150.0, None]
