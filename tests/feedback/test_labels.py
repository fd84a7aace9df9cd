"""Label delivery through the shared core, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from decayguard.errors import InputValidationError
from decayguard.feedback import (
    LabelColumns,
    import_labels,
    label_records_from_rows,
    read_label_file,
)
from decayguard.feedback.label_rules import LabelRules
from decayguard.store import current_labels, label_history

from .feedback_support import MODEL, T0, MakePredictions

COLUMNS = LabelColumns.for_model(target="default", entity_key="applicant_id")
BINARY = LabelRules.for_task("binary", classes=["0", "1"])


def _rows(rows: list[dict[str, object]]) -> list:
    return label_records_from_rows(rows, model_name=MODEL, columns=COLUMNS, rules=BINARY)


def test_labels_by_id_are_idempotent_and_corrections_keep_history(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    make_predictions(5)
    first = import_labels(
        store_engine,
        _rows(
            [
                {"prediction_id": "req-00000", "default": 1},
                {"prediction_id": "req-00001", "default": "0"},
            ]
        ),
    )
    assert (first.inserted, first.corrected, first.duplicates) == (2, 0, [])

    again = import_labels(store_engine, _rows([{"prediction_id": "req-00000", "default": 1.0}]))
    assert (again.inserted, again.corrected) == (0, 0)
    assert again.duplicates == ["p:req-00000"]

    fixed = import_labels(store_engine, _rows([{"prediction_id": "req-00000", "default": "0"}]))
    assert (fixed.inserted, fixed.corrected) == (0, 1)
    history = label_history(store_engine, MODEL, "p:req-00000")
    assert history["value"].tolist() == ["1", "0"]
    assert history["superseded_at"].isna().tolist() == [False, True]
    current = current_labels(store_engine, MODEL).set_index("prediction_id")["value"]
    assert current.to_dict() == {"req-00000": "0", "req-00001": "0"}


def test_unknown_ids_and_repeats_are_reported_never_dropped_silently(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    make_predictions(3)
    report = import_labels(
        store_engine,
        _rows(
            [
                {"prediction_id": "req-00002", "default": "1"},
                {"prediction_id": "ghost-1", "default": "1"},
                {"prediction_id": "req-00002", "default": "0"},
            ]
        ),
    )
    assert report.received == 3
    assert report.unknown_prediction_ids == ["ghost-1"]
    assert report.repeated_in_delivery == ["p:req-00002"]
    assert report.inserted == 1
    assert current_labels(store_engine, MODEL)["value"].tolist() == ["0"]  # the last one counts


def test_entity_and_event_time_join_to_the_latest_earlier_prediction(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    records = make_predictions(4, step=timedelta(hours=1))
    # Applicant 1002 was scored at T0+2h; the default became known at T0+30 days.
    report = import_labels(
        store_engine,
        _rows(
            [
                {"applicant_id": 1002, "event_time": T0 + timedelta(days=30), "default": "1"},
                {"applicant_id": 4242, "event_time": T0 + timedelta(days=30), "default": "0"},
                {"applicant_id": 1003, "event_time": T0 - timedelta(days=1), "default": "0"},
            ]
        ),
    )
    assert report.inserted == 3
    assert len(report.unmatched_entity_labels) == 2  # unknown applicant, and before any prediction
    labels = current_labels(store_engine, MODEL)
    joined = labels.dropna(subset=["prediction_id"]).set_index("entity_key")["prediction_id"]
    assert joined.to_dict() == {"1002": records[2].id}


def test_a_late_prediction_makes_an_unmatched_entity_label_join(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    event = T0 + timedelta(days=3)
    report = import_labels(
        store_engine, _rows([{"applicant_id": 1000, "event_time": event, "default": "1"}])
    )
    assert report.unmatched_entity_labels == [f"e:1000@{event.isoformat()}"]
    make_predictions(1)  # replayed from a spool after the label arrived
    assert current_labels(store_engine, MODEL)["prediction_id"].tolist() == ["req-00000"]


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"prediction_id": "req-1"}, "row 1.default", "missing"),
        ({"prediction_id": "req-1", "default": "yes"}, "row 1.default", "not one of"),
        ({"default": "1"}, "row 1.prediction_id", "needs 'prediction_id'"),
        ({"applicant_id": 7, "default": "1"}, "row 1.event_time", "needs 'event_time'"),
        (
            {"applicant_id": 7, "event_time": "soon", "default": "1"},
            "row 1.event_time",
            "timestamp",
        ),
    ],
)
def test_bad_rows_name_the_row_and_field(row: dict[str, object], field: str, message: str) -> None:
    good = {"prediction_id": "req-0", "default": "0"}
    with pytest.raises(InputValidationError, match=message) as info:
        _rows([good, row])
    assert info.value.field == field


def test_all_bad_rows_are_counted_in_one_error() -> None:
    with pytest.raises(InputValidationError) as info:
        _rows([{"default": "1"}, {"prediction_id": "a"}, {"prediction_id": "b", "default": 5}])
    assert info.value.field == "row 0.prediction_id"
    assert str(info.value) == (
        "input 'row 0.prediction_id': a label needs 'prediction_id', or 'applicant_id' and "
        "'event_time' (and 2 more: input 'row 1.default': the label value is missing; "
        "input 'row 2.default': '5' is not one of the classes ['0', '1'])"
    )


def test_csv_and_parquet_files_give_the_same_records(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "prediction_id": ["req-00001", None, "007"],
            "applicant_id": [None, 1004, None],
            "event_time": [None, "2026-12-01T10:00:00Z", None],
            "default": [1, 0, 1],
        }
    )
    csv_path, parquet_path = tmp_path / "labels.csv", tmp_path / "labels.parquet"
    frame.to_csv(csv_path, index=False)
    frame.assign(applicant_id=frame["applicant_id"].astype("Int64")).to_parquet(parquet_path)
    from_csv = read_label_file(csv_path, model_name=MODEL, columns=COLUMNS)
    from_parquet = read_label_file(parquet_path, model_name=MODEL, columns=COLUMNS)
    assert [r.key for r in from_csv] == [r.key for r in from_parquet]
    assert [r.value for r in from_csv] == ["1", "0", "1"] == [r.value for r in from_parquet]
    assert from_csv[1].entity_key == "1004"
    assert from_csv[2].prediction_id == "007"  # ids stay text, leading zeros kept
    assert from_csv[0].source == "file:labels.csv"


def test_numpy_scalars_from_parquet_become_the_same_text(tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    pd.DataFrame({"prediction_id": ["a", "b", "c"], "default": [True, False, True]}).to_parquet(
        path
    )
    assert [r.value for r in read_label_file(path, model_name=MODEL, columns=COLUMNS)] == [
        "1",
        "0",
        "1",
    ]


def test_bad_file_rows_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("prediction_id,default\nreq-1,1\nreq-2,\n")
    with pytest.raises(InputValidationError) as info:
        read_label_file(path, model_name=MODEL, columns=COLUMNS)
    assert info.value.field == f"{path}: line 3.default"


def test_files_without_label_columns_or_of_unknown_type_are_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,y\n1,1\n")
    with pytest.raises(InputValidationError, match="no label columns found"):
        read_label_file(wrong, model_name=MODEL, columns=COLUMNS)
    json_file = tmp_path / "labels.json"
    json_file.write_text("[]")
    with pytest.raises(InputValidationError, match="unsupported label file type"):
        read_label_file(json_file, model_name=MODEL, columns=COLUMNS)


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"prediction_id": "a\x00b", "default": "1"}, "row 0.prediction_id", "NUL"),
        ({"prediction_id": "x" * 65, "default": "1"}, "row 0.prediction_id", "longer than 64"),
        (
            {"applicant_id": "\x00", "event_time": "2026-11-02", "default": "1"},
            "row 0.applicant_id",
            "NUL",
        ),
        (
            {"prediction_id": "p", "default": "1", "model_name": "m" * 201},
            "row 0.model_name",
            "200",
        ),
    ],
)
def test_text_the_store_cannot_hold_is_an_input_error(
    row: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InputValidationError, match=message) as info:
        label_records_from_rows([row], model_name=MODEL, columns=COLUMNS)
    assert info.value.field == field


def test_label_rules_examples_run() -> None:
    import doctest

    import decayguard.feedback.label_rules as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
