"""Lineage of real training sets: reproducible hashes, Feast saved datasets, comparisons."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from decayguard.errors import ArtifactError
from decayguard.features import LastNDays, PointInTimeSet, TrainingSetLineage, compare_lineage
from decayguard.features.lineage import frame_sha256

from .conftest import SERVICE, Project, labels_for


@pytest.fixture(scope="module")
def built(sqlite_project: Project) -> tuple[pd.DataFrame, PointInTimeSet]:
    labels = labels_for(sqlite_project.source, sqlite_project.now, rows=500, seed=23)
    return labels, sqlite_project.repo.training_set(labels, end=sqlite_project.now.to_pydatetime())


def test_lineage_record_reproduces_the_same_frame_hash(
    sqlite_project: Project, built: tuple[pd.DataFrame, PointInTimeSet]
) -> None:
    _, training = built
    record = TrainingSetLineage.from_dict(json.loads(training.lineage.to_json()))
    assert record == training.lineage
    reloaded = sqlite_project.repo.load_training_set(record)
    assert frame_sha256(reloaded.frame) == record.frame_sha256 == frame_sha256(training.frame)
    assert list(reloaded.frame.columns) == record.columns
    assert record.saved_dataset in sqlite_project.repo.saved_training_sets()


def test_rebuilding_from_shuffled_labels_gives_the_same_hash(
    sqlite_project: Project, built: tuple[pd.DataFrame, PointInTimeSet]
) -> None:
    labels, training = built
    shuffled = labels.sample(frac=1.0, random_state=3)
    shuffled = shuffled[["default", "event_timestamp", "applicant_id"]]
    again = sqlite_project.repo.training_set(
        shuffled, end=pd.Timestamp(training.lineage.window_end).to_pydatetime(), save=False
    )
    assert again.lineage.frame_sha256 == training.lineage.frame_sha256
    assert again.lineage.labels_sha256 == training.lineage.labels_sha256
    assert again.lineage.saved_dataset is None
    assert compare_lineage(training.lineage, again.lineage).same_data


def test_reproducing_from_labels_checks_the_hash_and_names_what_changed(
    sqlite_project: Project, built: tuple[pd.DataFrame, PointInTimeSet]
) -> None:
    labels, training = built
    record = TrainingSetLineage.from_dict(training.lineage.to_dict())
    again = sqlite_project.repo.reproduce_training_set(
        record, labels.sample(frac=1.0, random_state=9)
    )
    assert again.lineage.frame_sha256 == record.frame_sha256
    relabelled = labels.assign(default=labels["default"].where(labels.index != 0, "x"))
    with pytest.raises(ArtifactError, match=r"changed since: the labels$"):
        sqlite_project.repo.reproduce_training_set(record, relabelled)


def test_lineage_names_service_version_window_rows_and_sources(
    sqlite_project: Project, built: tuple[pd.DataFrame, PointInTimeSet]
) -> None:
    labels, training = built
    lineage = training.lineage
    assert lineage.feature_service == SERVICE
    assert len(lineage.feature_service_version) == 16
    assert lineage.feature_view_versions == {"applicant_features": 0}
    assert lineage.rows == len(labels) == len(training.frame)
    assert lineage.window == {"kind": "all"}
    assert lineage.window_start is None
    assert pd.Timestamp(lineage.min_event_timestamp) == labels["event_timestamp"].min()
    assert pd.Timestamp(lineage.max_event_timestamp) == labels["event_timestamp"].max()
    assert lineage.rows_without_features == int(training.frame["income"].isna().sum()) > 0
    assert list(lineage.sources) == ["../data/applicant_features.parquet"]
    assert len(lineage.sources["../data/applicant_features.parquet"]) == 64
    assert lineage.feast_project == sqlite_project.repo.project


def test_compare_lineage_spots_a_different_window(
    sqlite_project: Project, built: tuple[pd.DataFrame, PointInTimeSet]
) -> None:
    labels, training = built
    recent = sqlite_project.repo.training_set(
        labels, window=LastNDays(90), end=sqlite_project.now.to_pydatetime(), save=False
    )
    result = compare_lineage(training.lineage, recent.lineage)
    assert not result.same_data
    assert result.same_features
    assert result.row_delta == recent.lineage.rows - training.lineage.rows < 0
    assert {"window", "rows", "frame_sha256", "labels_sha256"} <= set(result.differences)
    assert "created_at" not in result.differences
    assert result.overlap is not None


def test_a_tampered_saved_training_set_is_refused(
    sqlite_project: Project, built: tuple[pd.DataFrame, PointInTimeSet]
) -> None:
    labels, _ = built
    end = sqlite_project.now.to_pydatetime()
    fresh = sqlite_project.repo.training_set(labels.head(50), end=end)
    assert fresh.lineage.saved_dataset_path is not None
    path = sqlite_project.repo.path / fresh.lineage.saved_dataset_path
    frame = pd.read_parquet(path)
    frame.loc[0, "default"] = "1" if frame.loc[0, "default"] == "0" else "0"
    frame.to_parquet(path, index=False)
    with pytest.raises(ArtifactError, match="does not match"):
        sqlite_project.repo.load_training_set(fresh.lineage)
