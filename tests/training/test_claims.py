"""The store side of single-flight retraining, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine

from decayguard.config import DecayguardConfig
from decayguard.store import PredictionRecord, insert_predictions
from decayguard.store.labels import LabelRecord, ingest_labels
from decayguard.store.training_runs import (
    claim_training,
    finish_training,
    last_training,
    training_history,
)
from decayguard.training.sets import maturity_cutoff, training_labels

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _claim(engine: Engine, key: str, lease: timedelta = HOUR) -> str | None:
    claim = claim_training(
        engine, "m", trigger="decay", trigger_key=key, as_of=NOW, lease=lease, reason="r"
    )
    return claim.run_id


def test_one_running_retraining_per_model_and_one_per_trigger_window(store_engine: Engine) -> None:
    first = _claim(store_engine, "decay:a")
    assert first is not None
    assert _claim(store_engine, "decay:a") is None  # re-delivered event
    assert _claim(store_engine, "decay:b") is None  # another window while one runs
    finish_training(store_engine, first, "registered", version="2")
    assert _claim(store_engine, "decay:a") is None  # that window had its training
    second = _claim(store_engine, "decay:b")
    assert second is not None
    finish_training(store_engine, second, "waiting_for_labels", message="few labels")
    third = _claim(store_engine, "decay:b")  # waiting does not use the window up
    assert third is not None
    finish_training(store_engine, third, "failed", message="boom")
    assert _claim(store_engine, "decay:b") is None  # a failure does: no retry storm
    last = last_training(store_engine, "m", statuses=("registered",))
    assert last is not None
    assert last["version"] == "2"
    statuses = [r["status"] for r in training_history(store_engine, "m")]
    assert statuses == ["registered", "waiting_for_labels", "failed"]


def test_a_claim_whose_process_died_is_released(store_engine: Engine) -> None:
    dead = _claim(store_engine, "decay:a", lease=timedelta(seconds=-1))
    assert dead is not None
    fresh = _claim(store_engine, "decay:a")
    assert fresh is not None
    runs = {r["id"]: r for r in training_history(store_engine, "m")}
    assert runs[dead]["status"] == "abandoned"
    assert runs[fresh]["status"] == "running"
    # A finished run is never reopened by a late finish of the same id.
    finish_training(store_engine, dead, "registered", version="9")
    assert {r["id"]: r for r in training_history(store_engine, "m")}[dead]["status"] == "abandoned"


def test_concurrent_claims_grant_exactly_one(store_engine: Engine) -> None:
    granted: list[str | None] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        granted.append(_claim(store_engine, "decay:storm"))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(g is not None for g in granted) == 1


def test_labels_of_days_not_yet_labelled_enough_are_cut_off(store_engine: Engine) -> None:
    """Ten days of 100 predictions; days 0-6 fully labelled, days 7-9 only 30 %: the training
    set ends at the start of day 7 (feedback.label_maturity 0.8)."""
    cfg = DecayguardConfig(model={"name": "m", "entity_key": "applicant_id"})
    start = datetime(2026, 5, 1, tzinfo=UTC)
    records, labels = [], []
    for day in range(10):
        for i in range(100):
            pid = f"p{day}-{i}"
            ts = start + timedelta(days=day, minutes=10 * i)
            records.append(
                PredictionRecord(pid, ts, "m", "1", "champion", {"x": 1.0}, entity_key=str(i))
            )
            if day < 7 or i < 30:
                labels.append(LabelRecord("m", "1", prediction_id=pid))
    # A shadow prediction with a label: never answered, never trained on.
    records.append(PredictionRecord("s1", start, "m", "2", "shadow", {"x": 1.0}, entity_key="999"))
    labels.append(LabelRecord("m", "0", prediction_id="s1"))
    insert_predictions(store_engine, records)
    ingest_labels(store_engine, labels)
    now = start + timedelta(days=10)
    frame = training_labels(cfg, store_engine, datetime.now(UTC), until=now)
    assert len(frame) == 700 + 90
    assert "999" not in set(frame["applicant_id"])
    cutoff, coverage = maturity_cutoff(cfg, store_engine, frame, now)
    assert cutoff == start + timedelta(days=7)
    assert coverage["immature_days"] == 3
    assert coverage["immature_coverage"] == [0.3, 0.3, 0.3]
    # Labels as of a moment before any arrived: none.
    assert training_labels(cfg, store_engine, start - HOUR).empty
    assert isinstance(frame["event_timestamp"].dtype, pd.DatetimeTZDtype)
