"""The simulated world: reproducible, with its changes exactly where the timeline says."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline

from decayguard.sim import FEATURE_NAMES, LoanScenario, Simulation, train_model


def _days(sim: Simulation, first: float, last: float) -> pd.DataFrame:
    return sim.between(sim.scenario.at_day(first), sim.scenario.at_day(last))


def test_the_same_seed_gives_identical_frames() -> None:
    a = LoanScenario(seed=11, requests_per_day=150).simulate()
    b = LoanScenario(seed=11, requests_per_day=150).simulate()
    pd.testing.assert_frame_equal(a.frame, b.frame)
    c = LoanScenario(seed=12, requests_per_day=150).simulate()
    assert not a.frame["income"].head(100).equals(c.frame["income"].head(100))


def test_label_delay_parameters_do_not_change_the_applicants() -> None:
    base = LoanScenario(seed=3, requests_per_day=150)
    a = base.simulate().frame
    b = replace(base, label_delay_median_days=1.0, label_never_share=0.3).simulate().frame
    pd.testing.assert_frame_equal(a.drop(columns="label_arrival"), b.drop(columns="label_arrival"))
    assert not a["label_arrival"].equals(b["label_arrival"])


def test_frame_schema_and_phases(simulation: Simulation) -> None:
    f = simulation.frame
    assert f["request_id"].is_unique
    assert f["applicant_id"].is_unique
    assert f["applicant_id"].dtype == np.int64
    assert str(f["event_timestamp"].dtype) == "datetime64[us, UTC]"
    assert f["event_timestamp"].is_monotonic_increasing
    assert set(f["employment"]) == {"salaried", "self_employed", "unemployed", "retired"}
    assert set(f["default"]) == {0, 1}
    numeric = f[list(FEATURE_NAMES[:5])]
    assert np.isfinite(numeric.to_numpy()).all()
    assert f["utilization"].between(0, 1).all()
    assert f["debt_ratio"].between(0, 1).all()
    history, live = simulation.reference_frame(), simulation.live_frame()
    deployed = pd.Timestamp(simulation.scenario.deployment_time)
    assert (history["event_timestamp"] < deployed).all()
    assert (live["event_timestamp"] >= deployed).all()
    assert len(history) + len(live) == len(f)


def test_volume_has_a_weekly_cycle(simulation: Simulation) -> None:
    per_day = simulation.frame.groupby(simulation.frame["event_timestamp"].dt.floor("1D")).size()
    weekend = per_day[per_day.index.dayofweek >= 5]
    weekday = per_day[per_day.index.dayofweek < 5]
    assert weekend.mean() < 0.75 * weekday.mean()
    assert abs(per_day.mean() / simulation.scenario.requests_per_day - 1) < 0.05


def test_the_onsets_are_in_the_timeline() -> None:
    scenario = LoanScenario()
    timeline = scenario.timeline()
    scored = timeline[timeline["scored"]]
    assert scored[["day", "kind", "decay"]].values.tolist() == [
        [14.0, "covariate", False],
        [21.0, "concept", True],
    ]
    assert set(timeline.loc[~timeline["scored"], "kind"]) == {"seasonal"}
    concept = scenario.concept_onset
    assert concept is not None
    assert concept.start == scenario.at_day(21)


@pytest.mark.parametrize("feature", ["income", "utilization"])
def test_covariate_drift_starts_at_the_onset_and_not_before(
    simulation: Simulation, feature: str
) -> None:
    # Whole weeks, so that the weekly utilization cycle cancels out.
    history, stable = _days(simulation, 0, 7), _days(simulation, 7, 14)
    after = _days(simulation, 16, 21)  # the two-day ramp is complete
    assert ks_2samp(history[feature], stable[feature]).pvalue > 0.01
    drifted = ks_2samp(stable[feature], after[feature])
    assert drifted.pvalue < 1e-6
    assert drifted.statistic > 0.1


def test_the_weekly_utilization_cycle_is_mild(simulation: Simulation) -> None:
    live = _days(simulation, 0, 14)
    weekend = live[live["event_timestamp"].dt.dayofweek >= 5]["utilization"]
    midweek = live[live["event_timestamp"].dt.dayofweek.isin([1, 2])]["utilization"]
    gap = weekend.mean() - midweek.mean()
    assert 0.0 < gap < 0.04  # present, but a fraction of the recession's +0.09
    assert ks_2samp(weekend, midweek).statistic < 0.1


def test_the_champion_loses_accuracy_after_the_concept_onset_only(
    simulation: Simulation, champion: Pipeline
) -> None:
    def accuracy(first: float, last: float) -> float:
        rows = _days(simulation, first, last)
        return float(accuracy_score(rows["default"], champion.predict(rows[list(FEATURE_NAMES)])))

    stable, recession, shocked = accuracy(7, 14), accuracy(16, 21), accuracy(22, 28)
    assert stable > 0.84
    assert abs(recession - stable) < 0.04  # covariate drift alone is not a decay
    assert shocked < 0.70
    assert stable - shocked > 0.15


def test_the_recession_shows_in_the_predictions(simulation: Simulation, champion: Pipeline) -> None:
    def positive_rate(first: float, last: float) -> float:
        return float(champion.predict(_days(simulation, first, last)[list(FEATURE_NAMES)]).mean())

    assert abs(positive_rate(7, 14) - positive_rate(0, 7)) < 0.03
    assert positive_rate(16, 21) - positive_rate(7, 14) > 0.15


def test_the_small_scenario_tells_the_same_story() -> None:
    sim = LoanScenario.small(seed=7).simulate()
    model = train_model(sim.reference_frame())

    def accuracy(first: float, last: float) -> float:
        rows = _days(sim, first, last)
        return float(accuracy_score(rows["default"], model.predict(rows[list(FEATURE_NAMES)])))

    assert accuracy(4, 10.5) > 0.84
    assert accuracy(11, 14) < 0.70


def test_a_scenario_without_onsets_stays_stable() -> None:
    sim = LoanScenario(seed=5, covariate_day=None, concept_day=None).simulate()
    assert sim.scenario.timeline()["scored"].sum() == 0
    early, late = _days(sim, 7, 14), _days(sim, 21, 28)
    for feature in ("income", "utilization", "debt_ratio"):
        assert ks_2samp(early[feature], late[feature]).pvalue > 0.001


def test_steps_cover_the_live_period_once(simulation: Simulation) -> None:
    seen = [rows for _, _, rows in simulation.steps()]
    assert sum(len(r) for r in seen) == len(simulation.live_frame())
    assert len(seen) == simulation.scenario.days - simulation.scenario.history_days


def test_small_scenario_keeps_the_story() -> None:
    small = LoanScenario.small(seed=1)
    sim = small.simulate()
    assert len(sim.frame) < 5_000
    assert [o.kind for o in small.onsets() if o.scored] == ["covariate", "concept"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "days"),
        ({"requests_per_day": 0}, "requests_per_day"),
        ({"label_never_share": 1.0}, "label_never_share"),
        ({"concept_day": 30.0}, "concept_day"),
        ({"covariate_day": 3.0}, "covariate_day"),
    ],
)
def test_bad_parameters_are_refused_with_their_name(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoanScenario(**kwargs)  # type: ignore[arg-type]


def test_retraining_on_the_labels_that_arrived_after_the_shock_recovers(
    simulation: Simulation, champion: Pipeline
) -> None:
    scenario = simulation.scenario
    after_shock = _days(simulation, 22, 25)
    delivered = after_shock[after_shock["label_arrival"] < pd.Timestamp(scenario.at_day(25))]
    assert 100 < len(delivered) < len(after_shock) / 2  # label delay: most are still missing
    challenger = train_model(delivered)
    later = _days(simulation, 25, 28)
    X, y = later[list(FEATURE_NAMES)], later["default"]
    assert accuracy_score(y, challenger.predict(X)) > 0.85
    assert accuracy_score(y, champion.predict(X)) < 0.70
