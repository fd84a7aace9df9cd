"""End to end through decayguard's own MLServer runtime: the simulator's request ids become
the logged prediction ids, so labels and reviews join by id."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.pipeline import Pipeline

from decayguard.sim import FEATURE_NAMES, Simulation, replay_traffic
from decayguard.store import create_store_engine
from decayguard.store.schema import predictions

from .conftest import MODEL_NAME, Served

pytestmark = pytest.mark.slow


def _stored(store_url: str, ids: list[str], timeout: float = 30.0) -> pd.DataFrame:
    engine = create_store_engine(store_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                rows = pd.DataFrame(
                    conn.execute(sa.select(predictions).where(predictions.c.id.in_(ids))).mappings()
                )
            if len(rows) >= len(ids) or time.monotonic() > deadline:
                return rows
            time.sleep(0.3)
    finally:
        engine.dispose()


def test_replayed_rows_are_logged_under_the_simulator_ids(
    served: Served, simulation: Simulation, champion: Pipeline
) -> None:
    url, store_url = served.url, served.store_url
    rows = simulation.live_frame().iloc[2000:2200]
    report = replay_traffic(url, MODEL_NAME, rows, concurrency=4)
    assert report.failures == 0, report.to_frame()["error"].dropna().head().tolist()
    frame = report.to_frame()
    assert frame["prediction_id"].tolist() == rows["request_id"].tolist()
    assert set(frame["model_version"]) == {"1"}
    assert set(frame["arm"]) == {"champion"}
    expected = champion.predict(rows[list(FEATURE_NAMES)]).astype(str).tolist()
    assert frame["prediction"].tolist() == expected

    stored = _stored(store_url, rows["request_id"].tolist()).set_index("id")
    assert len(stored) == len(rows)
    by_id = rows.set_index("request_id")
    assert (stored["entity_key"] == by_id["applicant_id"].astype(str).loc[stored.index]).all()
    assert (stored["prediction"] == pd.Series(expected, index=by_id.index).loc[stored.index]).all()


def test_batches_are_logged_row_by_row(served: Served, simulation: Simulation) -> None:
    url, store_url = served.url, served.store_url
    rows = simulation.live_frame().iloc[3000:3064]
    report = replay_traffic(url, MODEL_NAME, rows, concurrency=2, batch_size=16)
    assert report.failures == 0
    logged = [r.prediction_id for r in report.results]
    assert logged[:2] == [
        f"batch-{rows['request_id'].iloc[0]}-16.0",
        f"batch-{rows['request_id'].iloc[0]}-16.1",
    ]
    stored = _stored(store_url, [str(p) for p in logged])
    assert len(stored) == len(rows)


def test_the_logged_time_is_the_simulated_event_time(
    served: Served, simulation: Simulation
) -> None:
    url, store_url = served.url, served.store_url
    rows = simulation.live_frame().iloc[4000:4010]
    assert replay_traffic(url, MODEL_NAME, rows).failures == 0
    stored = _stored(store_url, rows["request_id"].tolist()).set_index("id")
    logged = pd.to_datetime(stored["ts"], utc=True).loc[rows["request_id"]]
    assert (logged.to_numpy() == rows["event_timestamp"].to_numpy()).all()
