"""Labels arrive late (and some never); the reviewer is right, except for its error rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kstest

from decayguard.sim import LabelDelay, LoanScenario, SimulatedReviewer, Simulation


def test_label_delays_follow_the_configured_lognormal(simulation: Simulation) -> None:
    f = simulation.frame
    arrived = f["label_arrival"].notna()
    delay_days = (f.loc[arrived, "label_arrival"] - f.loc[arrived, "event_timestamp"]) / (
        pd.Timedelta(days=1)
    )
    scenario = simulation.scenario
    # Independent reference: scipy's normal distribution on the logs of the same delays.
    ks = kstest(np.log(delay_days), "norm", args=(np.log(3.0), 0.6))
    assert ks.pvalue > 0.01
    assert abs(np.median(delay_days) / scenario.label_delay_median_days - 1) < 0.05
    never = 1 - arrived.mean()
    tolerance = 4 * np.sqrt(0.1 * 0.9 / len(f))
    assert abs(never - scenario.label_never_share) < tolerance


def test_label_delay_quantiles() -> None:
    delay = LabelDelay(median=timedelta(days=3), sigma=0.6, never_share=0.0)
    drawn = delay.draw(np.random.default_rng(1), 50_000)
    assert not drawn.isna().any()
    for q in (0.1, 0.5, 0.9):
        expected = delay.quantile(q) / pd.Timedelta(days=1)
        observed = drawn.to_series().quantile(q) / pd.Timedelta(days=1)
        assert abs(observed / expected - 1) < 0.03


def test_labels_due_delivers_every_arriving_label_exactly_once(simulation: Simulation) -> None:
    scenario = simulation.scenario
    t, end = scenario.start, scenario.end + timedelta(days=30)
    batches = []
    while t < end:
        batches.append(simulation.labels_due(t, t + timedelta(hours=6)))
        t += timedelta(hours=6)
    delivered = pd.concat(batches, ignore_index=True)
    assert delivered["prediction_id"].is_unique
    expected = simulation.frame[simulation.frame["label_arrival"].notna()]
    assert set(delivered["prediction_id"]) == set(expected["request_id"])
    assert (delivered["arrival_time"] > delivered["event_timestamp"]).all()
    assert delivered["arrival_time"].is_monotonic_increasing
    truth = simulation.frame.set_index("request_id")["default"].astype(str)
    assert (delivered["value"].to_numpy() == truth.loc[delivered["prediction_id"]].to_numpy()).all()
    assert set(delivered["value"]) == {"0", "1"}


def test_labels_due_is_empty_before_the_first_arrival() -> None:
    sim = LoanScenario(seed=2, requests_per_day=100).simulate()
    early = sim.labels_due(sim.scenario.start - timedelta(days=1), sim.scenario.start)
    assert early.empty
    assert list(early.columns) == [
        "prediction_id",
        "applicant_id",
        "event_timestamp",
        "arrival_time",
        "value",
    ]


def test_reviewer_error_rate_within_tolerance() -> None:
    reviewer = SimulatedReviewer(error_rate=0.03, seed=4)
    asked = datetime(2026, 10, 20, tzinfo=UTC)
    n = 20_000
    truth = ["1" if i % 3 == 0 else "0" for i in range(n)]
    answers = [reviewer.review(f"p-{i}", truth[i], asked) for i in range(n)]
    wrong = np.mean([a.label != t for a, t in zip(answers, truth, strict=True)])
    assert abs(wrong - 0.03) < 4 * np.sqrt(0.03 * 0.97 / n)
    assert all(a.is_error == (a.label != t) for a, t in zip(answers, truth, strict=True))
    delays_h = [(a.answered_at - asked) / timedelta(hours=1) for a in answers]
    assert min(delays_h) >= 0
    assert abs(np.mean(delays_h) / 4.0 - 1) < 0.05


def test_reviewer_answers_depend_on_the_request_not_the_order() -> None:
    reviewer = SimulatedReviewer(error_rate=0.5, seed=9)
    asked = datetime(2026, 10, 20, tzinfo=UTC)
    forward = [reviewer.review(f"p-{i}", "1", asked) for i in range(200)]
    backward = [reviewer.review(f"p-{i}", "1", asked) for i in reversed(range(200))]
    assert forward == backward[::-1]
    other_seed = SimulatedReviewer(error_rate=0.5, seed=10)
    assert [a.label for a in forward] != [
        other_seed.review(a.prediction_id, "1", asked).label for a in forward
    ]


def test_reviewer_with_several_classes_and_bad_input() -> None:
    reviewer = SimulatedReviewer(error_rate=1.0, seed=1, classes=("a", "b", "c"))
    asked = datetime(2026, 10, 20, tzinfo=UTC)
    labels = {reviewer.review(f"p-{i}", "a", asked).label for i in range(200)}
    assert labels == {"b", "c"}
    with pytest.raises(ValueError, match="true label"):
        reviewer.review("p-1", "z", asked)
    with pytest.raises(ValueError, match="error_rate"):
        SimulatedReviewer(error_rate=1.5)


def test_reviewer_answers_the_simulation_s_review_requests(simulation: Simulation) -> None:
    ids = simulation.live_frame()["request_id"].head(500).tolist()
    truth = simulation.true_labels(ids)
    reviewer = SimulatedReviewer(error_rate=0.0, seed=0, mean_delay=timedelta(0))
    asked = simulation.scenario.deployment_time
    answers = [reviewer.review(p, t, asked) for p, t in zip(ids, truth, strict=True)]
    assert [a.label for a in answers] == truth
    assert {a.answered_at for a in answers} == {asked}
    with pytest.raises(KeyError, match="nope"):
        simulation.true_labels(["nope"])
