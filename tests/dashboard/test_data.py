"""What the dashboard reads: bins, ranges and the store's aggregated queries (SQLite and
PostgreSQL), and the drift matrix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from decayguard.dashboard.data import MAX_BINS, TimeRange, bin_width, drift_matrix, resolve_range
from decayguard.errors import InputValidationError
from decayguard.release.stages import Action, Stage
from decayguard.store import ReviewRecord, insert_predictions, record_review, write_metric_points
from decayguard.store.dashboard import (
    decision_points,
    feature_bins,
    metric_extent,
    review_bins,
    series_bins,
    stages_before,
    transitions_between,
)
from decayguard.store.events import MetricPoint
from decayguard.store.releases import Move, apply_moves, register_release

from ..api.api_support import T0, applicant_predictions

M = "credit-default"


@pytest.mark.parametrize("days", [1 / 24, 1, 7, 30, 90, 365, 400])
def test_bins_are_round_and_at_most_max_bins(days: float) -> None:
    width = bin_width(timedelta(days=days))
    assert timedelta(days=days).total_seconds() / width <= MAX_BINS
    assert width % 60 == 0


def test_ninety_days_of_hours_fall_into_6_hour_bins() -> None:
    assert bin_width(timedelta(days=90)) == 6 * 3600
    assert bin_width(timedelta(days=90), max_bins=2160) == 3600
    assert bin_width(timedelta(days=90), max_bins=2000) == 7200


def _point(end: datetime, value: float, **kw: object) -> MetricPoint:
    base: dict[str, object] = {
        "model_name": M,
        "window_start": end - timedelta(hours=24),
        "window_end": end,
        "strategy": "proxy",
        "metric": "estimated.accuracy",
        "value": value,
        "lower": value - 0.05,
        "upper": value + 0.05,
        "n": 100,
        "model_version": "1",
    }
    base.update(kw)
    return MetricPoint(**base)  # type: ignore[arg-type]


def test_the_range_defaults_to_the_points_and_refuses_an_empty_or_huge_one(
    store_engine: Engine,
) -> None:
    write_metric_points(store_engine, [_point(T0 + timedelta(hours=h), 0.9) for h in (1, 5)])
    assert metric_extent(store_engine, M) == (T0 + timedelta(hours=1), T0 + timedelta(hours=5))
    r = resolve_range(store_engine, M, None, None)
    assert (r.since, r.until) == (T0 + timedelta(hours=1), T0 + timedelta(hours=5, seconds=1))
    with pytest.raises(InputValidationError) as empty:
        resolve_range(store_engine, M, T0, T0)
    assert empty.value.field == "until"
    with pytest.raises(InputValidationError) as huge:
        resolve_range(store_engine, M, T0 - timedelta(days=500), T0)
    assert huge.value.field == "since"
    assert resolve_range(store_engine, "nobody", None, None, now=T0).until == T0


def test_series_are_binned_by_the_database(store_engine: Engine) -> None:
    points = [
        _point(T0 + timedelta(minutes=10), 0.90),
        _point(T0 + timedelta(minutes=50), 0.80, flagged=True, reason="decayed"),
        _point(T0 + timedelta(minutes=70), 0.70, provisional=True),
        _point(T0 + timedelta(minutes=80), 0.5, feature="age", metric="drift.ks"),
        _point(T0 + timedelta(hours=5), 0.1),  # outside [since, until)
    ]
    write_metric_points(store_engine, points)
    frame = series_bins(store_engine, M, T0, T0 + timedelta(hours=2), 3600)
    assert frame["bin"].tolist() == [0, 1]
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["value"] == pytest.approx(0.85)
    assert (first["lower"], first["upper"]) == pytest.approx((0.85 - 0.1, 0.95))
    assert (first["points"], bool(first["flagged"]), bool(first["provisional"])) == (2, True, False)
    assert (second["points"], bool(second["flagged"]), bool(second["provisional"])) == (
        1,
        False,
        True,
    )
    assert second["window_end"] == pd.Timestamp(T0 + timedelta(minutes=70))
    drift = series_bins(store_engine, M, T0, T0 + timedelta(hours=2), 3600, per_feature=True)
    assert drift[["metric", "feature", "bin"]].values.tolist() == [["drift.ks", "age", 1]]
    heat = feature_bins(
        store_engine, M, T0, T0 + timedelta(hours=2), 3600, metrics=["drift.ks", "drift.psi"]
    )
    assert heat.to_dict("records") == [
        {"metric": "drift.ks", "feature": "age", "bin": 1, "value": 0.5, "flagged": False}
    ]
    decided = decision_points(store_engine, M, T0, T0 + timedelta(hours=2), limit=10)
    assert decided[["metric", "reason", "flagged"]].values.tolist() == [
        ["estimated.accuracy", "decayed", True]
    ]
    only = series_bins(store_engine, M, T0, T0 + timedelta(hours=2), 7200, metrics=["estimated.f1"])
    assert only.empty


def test_review_progress_per_bin(store_engine: Engine) -> None:
    records = applicant_predictions(12, sampled_every=2)  # every 10 minutes, 6 sampled
    insert_predictions(store_engine, records)
    sampled = [r for r in records if r.review_sampled]
    record_review(store_engine, ReviewRecord(sampled[0].id, M, "ann", "labeled", value="1"))
    record_review(store_engine, ReviewRecord(sampled[1].id, M, "ann", "skipped"))
    record_review(store_engine, ReviewRecord(sampled[1].id, M, "bob", "labeled", value="0"))
    record_review(store_engine, ReviewRecord(sampled[4].id, M, "ann", "skipped"))
    frame = review_bins(store_engine, M, T0, T0 + timedelta(hours=2), 3600)
    assert frame.to_dict("records") == [
        {"bin": 0, "sampled": 3, "labeled": 2, "skipped": 0},
        {"bin": 1, "sampled": 3, "labeled": 0, "skipped": 1},
    ]


def test_a_version_promoted_before_the_range_is_still_on_its_timeline(
    store_engine: Engine,
) -> None:
    for v in ("1", "2"):
        register_release(store_engine, M, v, artifact_uri=f"/a/{v}", artifact_sha256=v * 64, now=T0)
    apply_moves(store_engine, M, [Move("1", Action.DEPLOY)], actor="t", reason="first", now=T0)
    later = T0 + timedelta(days=3)
    apply_moves(
        store_engine,
        M,
        [Move("1", Action.SUPERSEDE, Stage.CHAMPION), Move("2", Action.DEPLOY)],
        actor="t",
        reason="better",
        now=later,
    )
    since = T0 + timedelta(days=1)
    before = stages_before(store_engine, M, since, limit=10)
    assert sorted((r["version"], r["to_stage"]) for r in before) == [
        ("1", "champion"),
        ("2", "registered"),
    ]
    during = transitions_between(store_engine, M, since, later + timedelta(hours=1), limit=10)
    assert [(r["version"], r["action"], r["reason"]) for r in during] == [
        ("1", "supersede", "better"),
        ("2", "deploy", "better"),
    ]


def test_the_drift_matrix_holds_values_between_points_and_flags_by_the_decision_method() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    r = TimeRange(since, since + timedelta(hours=10))
    rows = []
    for b in (0, 2, 4, 9):  # every 2 bins, then a gap
        rows += [
            {
                "metric": "drift.jensen_shannon",
                "feature": "age",
                "bin": b,
                "value": 0.1 * b,
                "flagged": True,
            },
            {"metric": "drift.ks", "feature": "age", "bin": b, "value": 0.5, "flagged": b == 4},
            {
                "metric": "drift.jensen_shannon",
                "feature": "job",
                "bin": b,
                "value": 0.2,
                "flagged": b == 2,
            },
        ]
    rows.append(
        {
            "metric": "prediction_drift.jensen_shannon",
            "feature": "score",
            "bin": 1,
            "value": 0.3,
            "flagged": False,
        }
    )
    m = drift_matrix(pd.DataFrame(rows), r, 3600)
    assert m.features == ["prediction: score", "age", "job"]
    assert len(m.times) == 10
    age = m.values[1]
    assert age[:5] == pytest.approx([0.0, 0.0, 0.2, 0.2, 0.4])
    assert age[5:9] == [None] * 4  # a gap longer than the usual spacing stays empty
    assert [j for j, f in enumerate(m.flagged[1]) if f] == [4]  # ks decides for numeric
    assert [j for j, f in enumerate(m.flagged[2]) if f] == [2]  # jensen_shannon for categorical
    assert m.flagged_cells == 2
