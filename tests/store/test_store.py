"""The store suite: every test runs on SQLite and on the local PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.store import (
    LabelRecord,
    MetricPoint,
    PredictionRecord,
    audit,
    count_predictions,
    current_labels,
    current_revision,
    ensure_schema,
    get_prediction,
    head_revision,
    ingest_labels,
    insert_predictions,
    label_history,
    read_audit,
    read_metric_points,
    read_window,
    write_metric_points,
)
from decayguard.store.schema import metadata

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def make_records(n: int, *, start: int = 0, model: str = "m", version: str = "1") -> list:
    return [
        PredictionRecord(
            id=f"{model}-{i}",
            ts=T0 + timedelta(minutes=i),
            model_name=model,
            model_version=version,
            arm="champion" if i % 4 else "challenger",
            inputs={"x": float(i), "n": i, "cat": "ab"[i % 2], "maybe": None if i % 3 else 1.5},
            outputs={"proba_0": 0.25, "proba_1": 0.75},
            prediction=str(i % 2),
            score=0.75,
            inclusion_prob=0.1,
            review_sampled=i % 10 == 0,
            entity_key=f"e{i % 7}",
        )
        for i in range(start, start + n)
    ]


def test_migrations_reach_head_and_match_the_tables(store_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    assert current_revision(store_engine) == head_revision()
    ensure_schema(store_engine)
    with store_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(store_engine: Engine) -> None:
    if store_engine.dialect.name != "sqlite":
        pytest.skip("WAL is a SQLite setting")
    with store_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_insert_is_idempotent_by_prediction_id(store_engine: Engine) -> None:
    first = insert_predictions(store_engine, make_records(50))
    again = insert_predictions(store_engine, make_records(60))  # 50 replayed + 10 new
    assert (first.inserted, first.duplicates) == (50, 0)
    assert (again.inserted, again.duplicates) == (10, 50)
    assert count_predictions(store_engine, "m") == 60


def test_read_window_returns_exactly_the_range_with_typed_columns(store_engine: Engine) -> None:
    insert_predictions(store_engine, make_records(30))
    insert_predictions(store_engine, make_records(30, start=30))
    insert_predictions(store_engine, make_records(5, model="other"))
    window = read_window(store_engine, "m", T0 + timedelta(minutes=10), T0 + timedelta(minutes=45))
    meta = window.meta()
    assert len(window) == 35
    assert meta["prediction_id"].tolist() == [f"m-{i}" for i in range(10, 45)]
    assert str(meta["ts"].dt.tz) == "UTC"
    inputs = window.inputs()
    assert list(inputs.columns) == ["x", "n", "cat", "maybe"]
    assert inputs["x"].dtype == "float64"
    assert inputs["maybe"].isna().sum() == sum(1 for i in range(10, 45) if i % 3)
    assert set(window.outputs().columns) == {"proba_0", "proba_1"}


def test_read_window_filters_by_version_and_arm(store_engine: Engine) -> None:
    insert_predictions(store_engine, make_records(20, version="1"))
    insert_predictions(store_engine, make_records(20, start=20, version="2"))
    end = T0 + timedelta(days=1)
    assert len(read_window(store_engine, "m", T0, end, model_version="2")) == 20
    challenger = read_window(store_engine, "m", T0, end, arm="challenger")
    assert len(challenger) == 10


def test_empty_window(store_engine: Engine) -> None:
    window = read_window(store_engine, "nothing", T0, T0 + timedelta(days=1))
    assert len(window) == 0
    assert window.meta().empty


def test_get_prediction_returns_inputs_and_outputs(store_engine: Engine) -> None:
    insert_predictions(store_engine, make_records(12))
    row = get_prediction(store_engine, "m-11")
    assert row is not None
    assert row["inputs"] == {"x": 11.0, "n": 11, "cat": "b", "maybe": None}
    assert row["ts"] == T0 + timedelta(minutes=11)
    assert get_prediction(store_engine, "missing") is None


def test_mixed_types_in_one_input_are_kept_as_text(store_engine: Engine) -> None:
    recs = make_records(2)
    recs = [
        PredictionRecord(**{**{f: getattr(r, f) for f in r.__slots__}, "inputs": {"v": v}})
        for r, v in zip(recs, [3, "three"], strict=True)
    ]
    insert_predictions(store_engine, recs)
    window = read_window(store_engine, "m", T0, T0 + timedelta(days=1))
    assert window.inputs()["v"].tolist() == ["3", "three"]


def test_labels_are_idempotent_and_corrections_keep_history(store_engine: Engine) -> None:
    insert_predictions(store_engine, make_records(10))
    first = ingest_labels(
        store_engine,
        [LabelRecord("m", "1", prediction_id="m-1"), LabelRecord("m", "0", prediction_id="nope")],
    )
    assert (first.inserted, first.unknown_prediction_ids) == (1, ["nope"])
    again = ingest_labels(store_engine, [LabelRecord("m", "1", prediction_id="m-1")])
    assert (again.inserted, again.corrected, again.duplicates) == (0, 0, ["p:m-1"])
    fixed = ingest_labels(store_engine, [LabelRecord("m", "0", prediction_id="m-1")])
    assert fixed.corrected == 1
    labels = current_labels(store_engine, "m")
    assert labels.set_index("prediction_id").loc["m-1", "value"] == "0"
    history = label_history(store_engine, "m", "p:m-1")
    assert history["value"].tolist() == ["1", "0"]
    assert history["superseded_at"].notna().tolist() == [True, False]


def test_labels_by_entity_and_time_join_the_latest_prediction_before(store_engine: Engine) -> None:
    insert_predictions(store_engine, make_records(30))  # entity e3 predicted at minutes 3, 10, 17
    ingest_labels(
        store_engine,
        [LabelRecord("m", "1", entity_key="e3", event_time=T0 + timedelta(minutes=12))],
    )
    labels = current_labels(store_engine, "m")
    assert labels["prediction_id"].tolist() == ["m-10"]


def test_metric_points_and_audit_round_trip(store_engine: Engine) -> None:
    point = MetricPoint(
        model_name="m",
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
        strategy="labels",
        metric="accuracy",
        value=0.8,
        lower=0.7,
        upper=0.9,
        n=100,
        coverage=0.5,
        provisional=True,
    )
    assert write_metric_points(store_engine, [point]) == 1
    frame = read_metric_points(store_engine, "m", metric="accuracy")
    assert frame.loc[0, "value"] == pytest.approx(0.8)
    assert bool(frame.loc[0, "provisional"]) is True
    audit(store_engine, "deploy", model_name="m", details={"version": "2"})
    assert read_audit(store_engine, "m")[0]["details"] == {"version": "2"}


def test_unreachable_store_raises_a_store_error() -> None:
    from decayguard.errors import StoreError
    from decayguard.store import create_store_engine, upgrade

    engine = create_store_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="cannot migrate"):
        upgrade(engine)


def test_timestamps_are_stored_as_utc(store_engine: Engine) -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    rec = make_records(1)[0]
    insert_predictions(
        store_engine,
        [PredictionRecord(**{**{f: getattr(rec, f) for f in rec.__slots__}, "ts": local})],
    )
    row = get_prediction(store_engine, rec.id)
    assert row is not None
    assert row["ts"] == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with store_engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from predictions")).scalar() == 1


def test_a_label_key_has_at_most_one_current_value(store_engine: Engine) -> None:
    from decayguard.store.schema import labels

    insert_predictions(store_engine, make_records(2))
    ingest_labels(store_engine, [LabelRecord("m", "1", prediction_id="m-1")])
    row = {
        "model_name": "m",
        "label_key": "p:m-1",
        "prediction_id": "m-1",
        "value": "0",
        "source": "racing-writer",
        "received_at": T0,
    }
    with pytest.raises(sa.exc.IntegrityError), store_engine.begin() as conn:
        conn.execute(labels.insert(), row)
    # A superseded value is history and does not collide.
    with store_engine.begin() as conn:
        conn.execute(labels.insert(), {**row, "superseded_at": T0})


def test_current_labels_of_a_window_read_only_what_can_join_it(store_engine: Engine) -> None:
    insert_predictions(store_engine, make_records(30))  # minutes 0..29, entity e{i % 7}
    ingest_labels(
        store_engine,
        [
            LabelRecord("m", "1", prediction_id="m-2"),  # before the window
            LabelRecord("m", "0", prediction_id="m-12"),  # inside
            LabelRecord("m", "1", entity_key="e3", event_time=T0 + timedelta(minutes=4)),
            LabelRecord("m", "0", entity_key="e3", event_time=T0 + timedelta(minutes=18)),
        ],
    )
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    window = current_labels(store_engine, "m", start, end)
    assert sorted(window["prediction_id"]) == ["m-12", "m-17"]  # e3 at 18 joins m-17
    assert len(current_labels(store_engine, "m")) == 4
