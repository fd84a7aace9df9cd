"""Point-in-time training sets from a real Feast repo: no leakage, no lost labels, windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decayguard.errors import InputValidationError
from decayguard.features import LastNDays, RecencyWeighted, point_in_time_join

from .conftest import BACKFILLED, CREATED, FEATURES, KEY, SPOT, Project, labels_for

DAY = pd.Timedelta(days=1)
TTL = pd.Timedelta(days=365)


@pytest.fixture(scope="module")
def seeded_set(sqlite_project: Project) -> tuple[pd.DataFrame, pd.DataFrame]:
    """3,000 seeded labels and their training frame, as of the session's now."""
    labels = labels_for(sqlite_project.source, sqlite_project.now, rows=3000, seed=11)
    built = sqlite_project.repo.training_set(labels, end=sqlite_project.now.to_pydatetime())
    return labels, built.frame


def test_no_feature_value_from_after_the_label_time_appears(
    sqlite_project: Project, seeded_set: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    labels, frame = seeded_set
    source = sqlite_project.source
    assert len(frame) == len(labels)  # every label yields a row, none silently dropped
    found = frame.dropna(subset=["credit_lines"])
    origin = source.iloc[found["credit_lines"].astype(int).to_numpy()]
    # Each feature value came from the same entity's row, dated and written by the label time...
    label_times = found["event_timestamp"].to_numpy()
    assert (origin[KEY].to_numpy() == found[KEY].to_numpy()).all()
    assert (origin["event_timestamp"].to_numpy() <= label_times).all()
    assert (origin[CREATED].to_numpy() <= label_times).all()
    # ...and from the latest such row: no newer row known at the label time was skipped.
    for row, origin_time in zip(
        found.itertuples(index=False), origin["event_timestamp"], strict=True
    ):
        assert (
            known_rows(source, row.applicant_id, row.event_timestamp)["event_timestamp"].max()
            == origin_time
        )
    # Labels with nothing known yet get nulls (not a later value), and there are such labels,
    # including rows dated before the label but written after it.
    empty = frame[frame["credit_lines"].isna()]
    assert len(empty) > 0
    for row in empty.itertuples(index=False):
        assert known_rows(source, row.applicant_id, row.event_timestamp).empty
    dated_before_written_after = (
        (source["event_timestamp"].to_numpy()[:, None] <= frame["event_timestamp"].to_numpy())
        & (source[CREATED].to_numpy()[:, None] > frame["event_timestamp"].to_numpy())
        & (source[KEY].to_numpy()[:, None] == frame[KEY].to_numpy())
    )
    assert dated_before_written_after.any()


def known_rows(source: pd.DataFrame, key: int, at: pd.Timestamp) -> pd.DataFrame:
    """The entity's source rows dated and written at or before ``at`` (within the TTL)."""
    rows = source[source[KEY] == key]
    return rows[
        (rows["event_timestamp"] <= at)
        & (rows[CREATED] <= at)
        & (rows["event_timestamp"] >= at - TTL)
    ]


def test_feast_join_equals_an_independent_pandas_join(
    sqlite_project: Project, seeded_set: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, frame = seeded_set
    reference = point_in_time_join(
        frame[[KEY, "event_timestamp"]],
        sqlite_project.source,
        keys=[KEY],
        feature_names=FEATURES,
        ttl=TTL,
        created_column=CREATED,
    )
    ours, theirs = frame[FEATURES].reset_index(drop=True), reference[FEATURES]
    # Feast leaves missing text as None, pandas as NaN: compare nulls as nulls.
    pd.testing.assert_frame_equal(
        ours.astype(object).where(ours.notna(), None),
        theirs.astype(object).where(theirs.notna(), None),
    )


def test_hand_made_history_gives_exactly_the_known_values(sqlite_project: Project) -> None:
    now = sqlite_project.now
    tiny = pd.Timedelta(microseconds=1)
    times = [
        now - 40 * DAY,  # before the first value: nulls, row kept
        now - 30 * DAY,  # exactly at a value's time: that value (inclusive)
        now - 20 * DAY - tiny,  # a microsecond before the second value: still the first
        now - 20 * DAY,
        now - 15 * DAY,
        now - 15 * DAY,  # same key and time, another label: both rows kept (Feast #6787)
        now,  # the value dated tomorrow must not appear
    ]
    labels = pd.DataFrame(
        {KEY: SPOT, "event_timestamp": times, "default": ["0", "1", "0", "1", "0", "1", "0"]}
    )
    frame = sqlite_project.repo.training_set(labels, end=now.to_pydatetime()).frame
    frame = frame.sort_values(["event_timestamp", "default"]).reset_index(drop=True)
    assert frame["income"].tolist()[1:] == [100.0, 100.0, 200.0, 200.0, 200.0, 300.0]
    assert np.isnan(frame["income"].iloc[0])
    assert frame["default"].tolist() == ["0", "1", "0", "1", "0", "1", "0"]
    assert 999.0 not in frame["income"].tolist()


def test_a_value_written_after_the_label_time_never_appears(sqlite_project: Project) -> None:
    now = sqlite_project.now
    labels = pd.DataFrame(
        {
            KEY: BACKFILLED,
            # The 150 is dated 25 days ago but was only written 5 days ago.
            "event_timestamp": [now - 20 * DAY, now - 6 * DAY, now - 5 * DAY, now - DAY],
            "default": ["0", "0", "1", "1"],
        }
    )
    frame = sqlite_project.repo.training_set(labels, end=now.to_pydatetime(), save=False).frame
    frame = frame.sort_values("event_timestamp")
    assert frame["income"].tolist() == [100.0, 100.0, 150.0, 150.0]


def test_last_n_days_window_keeps_only_recent_labels(
    sqlite_project: Project, seeded_set: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    labels, _ = seeded_set
    end = sqlite_project.now
    built = sqlite_project.repo.training_set(
        labels, window=LastNDays(days=60), end=end.to_pydatetime()
    )
    inside = labels[labels["event_timestamp"] >= end - 60 * DAY]
    assert 0 < len(built.frame) == len(inside) < len(labels)
    assert built.frame["event_timestamp"].min() >= end - 60 * DAY
    assert built.lineage.window == {"kind": "last_n_days", "days": 60}
    assert pd.Timestamp(built.lineage.window_start) == end - 60 * DAY


def test_recency_weighted_window_adds_halving_weights(
    sqlite_project: Project, seeded_set: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    labels, _ = seeded_set
    end = sqlite_project.now
    built = sqlite_project.repo.training_set(
        labels, window=RecencyWeighted(half_life_days=30), end=end.to_pydatetime()
    )
    frame = built.frame
    assert len(frame) == len(labels)
    age_days = (end - frame["event_timestamp"]).dt.total_seconds().to_numpy() / 86400
    np.testing.assert_allclose(frame["sample_weight"], np.exp2(-age_days / 30), rtol=1e-12)
    assert frame["sample_weight"].between(0, 1).all()


def test_bad_labels_are_refused_naming_the_column(sqlite_project: Project) -> None:
    repo = sqlite_project.repo
    good = pd.DataFrame({KEY: [1], "event_timestamp": [sqlite_project.now], "default": ["1"]})
    with pytest.raises(InputValidationError) as missing:
        repo.training_set(good.drop(columns=[KEY]))
    assert missing.value.field == KEY
    with pytest.raises(InputValidationError) as bad_time:
        repo.training_set(good.assign(event_timestamp=["not a time"]))
    assert bad_time.value.field == "event_timestamp"
    with pytest.raises(InputValidationError) as clash:
        repo.training_set(good.assign(income=[1.0]))
    assert clash.value.field == "income"
    with pytest.raises(InputValidationError) as empty:
        repo.training_set(good, window=LastNDays(1), end=(sqlite_project.now - 5 * DAY))
    assert empty.value.field == "labels"


def test_another_label_time_column_is_accepted(sqlite_project: Project) -> None:
    now = sqlite_project.now
    labels = pd.DataFrame({KEY: [SPOT], "labelled_at": [now - 15 * DAY], "default": ["1"]})
    frame = sqlite_project.repo.training_set(
        labels, time_column="labelled_at", end=now.to_pydatetime(), save=False
    ).frame
    assert frame["income"].tolist() == [200.0]
