"""Label delivery through the shared core, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

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


REGRESSION = LabelRules.for_task("regression")
GRADES = LabelRules.for_task("multiclass", classes=["A", "B", "C", "D"])
LOSS = LabelColumns.for_model(target="loss_amount", entity_key="applicant_id")


def test_regression_labels_are_finite_numbers_stored_as_normalised_text() -> None:
    rows = [
        {"prediction_id": "req-0", "loss_amount": 1250.5},
        {"prediction_id": "req-1", "loss_amount": "  980.25 "},
        {"prediction_id": "req-2", "loss_amount": 3},
        {"prediction_id": "req-3", "loss_amount": "1e3"},
    ]
    records = label_records_from_rows(rows, model_name=MODEL, columns=LOSS, rules=REGRESSION)
    assert [r.value for r in records] == ["1250.5", "980.25", "3.0", "1000.0"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "'abc' is not a number"),
        ("nan", "'nan' is not a finite number"),
        ("inf", "'inf' is not a finite number"),
        ("-Infinity", "'-Infinity' is not a finite number"),
        ("12,5", "'12,5' is not a number"),
    ],
)
def test_a_regression_label_that_is_no_finite_number_names_row_field_and_value(
    value: object, message: str
) -> None:
    rows = [{"prediction_id": "req-0", "loss_amount": 10}, {"prediction_id": "req-1"}]
    rows[1]["loss_amount"] = value
    with pytest.raises(InputValidationError) as info:
        label_records_from_rows(rows, model_name=MODEL, columns=LOSS, rules=REGRESSION)
    assert info.value.field == "row 1.loss_amount"
    assert message in str(info.value)


def test_multiclass_labels_must_be_known_classes() -> None:
    rows = [{"prediction_id": "req-0", "risk_grade": "B"}, {"prediction_id": "req-1"}]
    grade = LabelColumns.for_model(target="risk_grade", entity_key=None)
    assert [
        r.value
        for r in label_records_from_rows(rows[:1], model_name=MODEL, columns=grade, rules=GRADES)
    ] == ["B"]
    rows[1]["risk_grade"] = "E"
    with pytest.raises(InputValidationError) as info:
        label_records_from_rows(rows, model_name=MODEL, columns=grade, rules=GRADES)
    assert info.value.field == "row 1.risk_grade"
    assert "'E' is not one of the classes ['A', 'B', 'C', 'D']" in str(info.value)


def test_a_delivery_with_one_bad_label_stores_none_of_it(
    store_engine: Engine, make_predictions: MakePredictions
) -> None:
    make_predictions(3)
    rows = [
        {"prediction_id": "req-00000", "loss_amount": "100"},
        {"prediction_id": "req-00001", "loss_amount": "lots"},
        {"prediction_id": "req-00002", "loss_amount": "300"},
    ]
    with pytest.raises(InputValidationError, match="'lots' is not a number"):
        import_labels(
            store_engine,
            label_records_from_rows(rows, model_name=MODEL, columns=LOSS, rules=REGRESSION),
        )
    assert current_labels(store_engine, MODEL).empty


def test_a_bad_amount_in_a_csv_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "losses.csv"
    path.write_text("prediction_id,loss_amount\nreq-0,1250.5\nreq-1,n/a\n")
    with pytest.raises(InputValidationError) as info:
        read_label_file(path, model_name=MODEL, columns=LOSS, rules=REGRESSION)
    assert info.value.field == f"{path}: line 3.loss_amount"
    assert "'n/a' is not a number" in str(info.value)


def _export(folder: Path, task: str, classes: list[str]) -> Path:
    from decayguard.config import FeatureSpec
    from decayguard.registry.manifest import ArtifactManifest

    folder.mkdir(parents=True)
    ArtifactManifest(
        model_name=MODEL,
        model_version="7",
        flavor="skops",
        artifact="model.skops",
        sha256="0" * 64,
        task=task,  # type: ignore[arg-type]
        features=[FeatureSpec(name="income")],
        classes=classes,
    ).write(folder)
    return folder


def _config(store_engine: Engine, task: str, label_values: list[str]) -> Any:
    from decayguard.config import DecayguardConfig

    return DecayguardConfig(
        project={"store_url": str(store_engine.url)},
        model={"name": MODEL, "task": task, "target": "grade"},
        feedback={"label_values": label_values},
    )


def test_known_classes_come_from_config_then_the_champion_then_0_1(
    store_engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from decayguard.store import record_deployment

    multiclass = _config(store_engine, "multiclass", [])
    assert LabelRules.for_project(multiclass, store_engine).values == ()  # nothing known
    assert LabelRules.for_project(multiclass, store_engine).check("Z", "v") == "Z"
    folder = _export(tmp_path / "v7", "multiclass", ["A", "B", "C", "D"])
    record_deployment(store_engine, MODEL, "7", artifact_uri=str(folder))
    rules = LabelRules.for_project(multiclass, store_engine)
    assert (rules.values, rules.answer) == (("A", "B", "C", "D"), "choice")
    configured = _config(store_engine, "multiclass", ["low", "high"])
    assert LabelRules.for_project(configured, store_engine).values == ("low", "high")
    regression = LabelRules.for_project(_config(store_engine, "regression", []), store_engine)
    assert (regression.values, regression.answer) == ((), "value")

    record_deployment(store_engine, MODEL, "8", artifact_uri=str(tmp_path / "gone"))
    binary = _config(store_engine, "binary", [])
    with caplog.at_level("WARNING", logger="decayguard.feedback.label_rules"):
        assert LabelRules.for_project(binary, store_engine).values == ("0", "1")
    assert "cannot read the champion's classes" in caplog.text
