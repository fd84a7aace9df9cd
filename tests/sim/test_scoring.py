"""Scoring alarms against the known onsets: detections, delays and false alarms."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from decayguard.sim import Alarm, LoanScenario, score_alarms


def _at(scenario: LoanScenario, day: float) -> pd.Timestamp:
    return pd.Timestamp(scenario.at_day(day))


def test_detections_delays_and_false_alarms() -> None:
    s = LoanScenario()
    alarms = [
        Alarm(s.at_day(3), "proxy", "history: ignored"),
        Alarm(s.at_day(9.5), "proxy", "stable week"),
        Alarm(s.at_day(15.25), "proxy", "income drift"),
        Alarm(s.at_day(16), "proxy", "utilization drift"),
        Alarm(s.at_day(17), "review", "reviewed accuracy dipped"),
        Alarm(s.at_day(22), "proxy", "recession still there"),
        Alarm(s.at_day(22.5), "realized", "reviews"),
        Alarm(s.at_day(25), "realized", "labels"),
    ]
    score = score_alarms(s.onsets(), alarms, since=s.deployment_time)
    table = score.detections.set_index(["kind", "strategy"])
    assert len(table) == 6
    assert table.loc[("covariate", "proxy"), "detected_at"] == _at(s, 15.25)
    assert table.loc[("covariate", "proxy"), "delay"] == pd.Timedelta(days=1.25)
    assert bool(table.loc[("covariate", "proxy"), "expected"])
    assert pd.isna(table.loc[("covariate", "realized"), "detected_at"])
    assert table.loc[("concept", "realized"), "delay"] == pd.Timedelta(days=1.5)
    # The recession still firing after the shock is not a detection of the shock.
    assert pd.isna(table.loc[("concept", "proxy"), "detected_at"])
    assert score.false_alarms["time"].tolist() == [s.at_day(9.5), s.at_day(17)]
    assert score.false_alarms["reason"].tolist() == [
        "before any onset",
        "decay alarm, but covariate drift is no decay",
    ]


def test_no_alarms_means_nothing_detected_and_nothing_false() -> None:
    s = LoanScenario()
    score = score_alarms(s.onsets(), [])
    assert score.detections["detected_at"].isna().all()
    assert score.false_alarms.empty
    assert list(score.false_alarms.columns) == ["time", "strategy", "detail", "reason"]


def test_an_unexpected_first_detection_is_still_reported() -> None:
    s = LoanScenario(covariate_day=None)
    shock = s.at_day(21)
    score = score_alarms(s.onsets(), [Alarm(shock + timedelta(hours=30), "proxy")])
    row = score.detections.set_index("strategy").loc["proxy"]
    assert row["kind"] == "concept"
    assert not row["expected"]
    assert row["delay"] == pd.Timedelta(hours=30)
