"""The monitor run's core on a simulated deployment: quiet before the onsets, alarmed after.

Predictions are written straight into the store here (the end-to-end test sends them through
the real MLServer endpoint); the statistics, store reads, labels and reviews are all real.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from decayguard.alerts import IncidentTracker, RecordingNotifier
from decayguard.config import DecayguardConfig
from decayguard.feedback.sampling import ReviewSampler
from decayguard.monitoring.tasks import task_for
from decayguard.sim import LoanScenario, SimulatedReviewer
from decayguard.sim.training import train_model
from decayguard.store import (
    LabelRecord,
    PredictionRecord,
    ingest_labels,
    insert_predictions,
    read_metric_points,
    record_deployment,
)
from decayguard.store.reviews import ReviewRecord, record_review
from decayguard.watch import MonitoringBaseline, run_checks
from decayguard.watch.baseline import baseline_path

FEATURES = ["income", "debt_ratio", "age", "credit_lines", "utilization", "employment"]


@pytest.fixture(scope="module")
def world() -> dict[str, object]:
    sim = LoanScenario(seed=3, requests_per_day=400).simulate()
    history = sim.reference_frame()
    cut = int(len(history) * 0.7)
    model = train_model(history.iloc[:cut])
    holdout = history.iloc[cut:]
    task = task_for("binary", classes=("0", "1"), positive_class="1")
    outputs = task.outputs_from_scores(model.predict_proba(holdout[FEATURES]))
    baseline = MonitoringBaseline.fit(
        "credit-default",
        "1",
        task,
        history[FEATURES],  # drift reference: the whole reference period
        holdout[FEATURES],
        outputs,
        holdout["default"].astype(str),
        numeric=FEATURES[:-1],
        categorical=["employment"],
    )
    return {"sim": sim, "model": model, "baseline": baseline}


def _serve_and_feed(engine: Engine, world: dict[str, object], until: pd.Timestamp) -> None:
    sim, model = world["sim"], world["model"]
    live = sim.live_frame()  # type: ignore[attr-defined]
    live = live[live["event_timestamp"] < until]
    scores = model.predict_proba(live[FEATURES])[:, 1]  # type: ignore[attr-defined]
    sampler = ReviewSampler("uncertainty", budget=_budget()).fit(scores)
    rng = np.random.default_rng(0)
    records = []
    for row, score in zip(live.itertuples(index=False), scores, strict=True):
        pred = "1" if score >= 0.5 else "0"
        p = sampler.inclusion_probability(float(score), pred)
        records.append(
            PredictionRecord(
                id=row.request_id,
                ts=row.event_timestamp.to_pydatetime(),
                model_name="credit-default",
                model_version="1",
                arm="champion",
                inputs={f: getattr(row, f) for f in FEATURES},
                outputs={"proba_1": float(score)},
                prediction=pred,
                score=float(score),
                inclusion_prob=p,
                review_sampled=sampler.draw(p, rng),
                entity_key=str(row.applicant_id),
            )
        )
    for i in range(0, len(records), 1000):
        insert_predictions(engine, records[i : i + 1000])
    due = sim.labels_due(sim.scenario.deployment_time, until)  # type: ignore[attr-defined]
    ingest_labels(
        engine,
        [
            LabelRecord("credit-default", r.value, prediction_id=r.prediction_id)
            for r in due.itertuples()
        ],
    )
    reviewer = SimulatedReviewer(error_rate=0.03, seed=1)
    truth = live.set_index("request_id")["default"].astype(str)
    for rec in records:
        if rec.review_sampled:
            answer = reviewer.review(rec.id, truth[rec.id], rec.ts)
            record_review(
                engine, ReviewRecord(rec.id, "credit-default", "sim", "labeled", answer.label)
            )


def _budget():  # type: ignore[no-untyped-def]
    from decayguard.feedback.sampling import ReviewBudget

    return ReviewBudget(share=0.15)


def _config() -> DecayguardConfig:
    cfg = DecayguardConfig()
    cfg.model.name = "credit-default"
    cfg.monitoring.review_window_hours = 168
    cfg.monitoring.performance_thresholds = {"accuracy": 0.8}
    return cfg


def test_quiet_before_the_onsets_and_alarmed_after(
    store_engine: Engine, world: dict[str, object]
) -> None:
    sim = world["sim"]
    scenario = sim.scenario  # type: ignore[attr-defined]
    baseline = world["baseline"]
    cfg = _config()
    before = pd.Timestamp(scenario.at_day(13.5))
    _serve_and_feed(store_engine, world, pd.Timestamp(scenario.end))
    quiet = run_checks(cfg, store_engine, baseline, before.to_pydatetime())  # type: ignore[arg-type]
    assert quiet.n_predictions > 200
    assert quiet.drifted_features == []
    assert not quiet.decayed, quiet.decay_reason
    late = run_checks(cfg, store_engine, baseline, scenario.end)  # type: ignore[arg-type]
    assert {"income", "utilization"} & set(late.drifted_features), [
        p.reason for p in late.points if p.metric == "drift.ks"
    ]
    assert late.verdicts["realized"].decayed, late.verdicts["realized"].reason
    assert late.verdicts["review"].decayed, late.verdicts["review"].reason
    assert "upper 95% bound" in late.verdicts["realized"].reason
    assert late.points, "metric points are written"

    notifier = RecordingNotifier()
    tracker = IncidentTracker(store_engine, notifier, cooldown=timedelta(hours=6))
    tracker.process(quiet.signals, now=quiet.now)
    assert notifier.sent == []
    tracker.process(late.signals, now=late.now)
    opened = {n.title for n in notifier.sent}
    assert any("decay.realized" in t for t in opened)
    assert any("feature_drift" in t for t in opened)
    count = len(notifier.sent)
    tracker.process(late.signals, now=late.now + timedelta(hours=1))  # within the cooldown
    assert len(notifier.sent) == count, "one incident, one alert"
    tracker.process(quiet.signals, now=late.now + timedelta(hours=2))
    assert any(n.kind == "resolved" for n in notifier.sent[count:])


def test_the_shadow_arm_is_not_counted_in_the_champions_window(
    store_engine: Engine, world: dict[str, object]
) -> None:
    """A challenger in shadow re-scores every request (its silent rows name the answered
    ones): counting its rows would double the inputs (overconfident drift tests) and mix
    its outputs into the champion's."""
    sim, model = world["sim"], world["model"]
    live = sim.live_frame().iloc[:300]  # type: ignore[attr-defined]
    scores = model.predict_proba(live[FEATURES])[:, 1]  # type: ignore[attr-defined]
    records = []
    for row, score in zip(live.itertuples(index=False), scores, strict=True):
        answered = f"shadowtest-{row.request_id}"
        for arm, version, p, paired in (
            ("champion", "1", float(score), None),
            ("shadow", "2", 0.99, answered),
        ):
            records.append(
                PredictionRecord(
                    id=answered if paired is None else f"{answered}:shadow",
                    ts=row.event_timestamp.to_pydatetime(),
                    model_name="shadow-test",
                    model_version=version,
                    paired_id=paired,
                    arm=arm,
                    inputs={f: getattr(row, f) for f in FEATURES},
                    outputs={"proba_0": 1 - p, "proba_1": p},
                    prediction="1" if p >= 0.5 else "0",
                    score=p,
                )
            )
    insert_predictions(store_engine, records)
    cfg = _config()
    cfg.model.name = "shadow-test"
    cfg.monitoring.window_hours = 24 * 30
    end = live["event_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    report = run_checks(cfg, store_engine, world["baseline"], end, write=False)  # type: ignore[arg-type]
    assert report.n_predictions == 300
    assert not report.prediction_drift, "the shadow's confident scores are not the champion's"


def _trial_world(
    engine: Engine, world: dict[str, object], name: str, n: int, canary_every: int
) -> tuple[list[PredictionRecord], pd.DataFrame]:
    """``n`` requests scored by champion 1 and a challenger 2 that says the opposite: the
    challenger answers every ``canary_every``-th one, the other version scores silently.
    Every request gets its label; every fourth answered one is reviewed."""
    sim, model = world["sim"], world["model"]
    live = sim.live_frame().iloc[:n]  # type: ignore[attr-defined]
    scores = model.predict_proba(live[FEATURES])[:, 1]  # type: ignore[attr-defined]
    answered, silent = [], []
    for i, (row, score) in enumerate(zip(live.itertuples(index=False), scores, strict=True)):
        opinions = {"1": float(score), "2": 1.0 - float(score)}
        answering = "2" if i % canary_every == 0 else "1"
        quiet = "1" if answering == "2" else "2"
        common = {
            "ts": row.event_timestamp.to_pydatetime(),
            "model_name": name,
            "inputs": {f: getattr(row, f) for f in FEATURES},
            "entity_key": str(row.applicant_id),
        }
        rid = f"{name}-{row.request_id}"
        for version, arm, pid, paired in (
            (answering, "challenger" if answering == "2" else "champion", rid, None),
            (quiet, "shadow", f"{rid}:shadow", rid),
        ):
            p = opinions[version]
            record = PredictionRecord(
                id=pid,
                model_version=version,
                arm=arm,
                outputs={"proba_0": 1 - p, "proba_1": p},
                prediction="1" if p >= 0.5 else "0",
                score=p,
                inclusion_prob=0.25 if paired is None else 0.0,
                review_sampled=paired is None and i % 4 == 0,
                paired_id=paired,
                **common,  # type: ignore[arg-type]
            )
            (answered if paired is None else silent).append(record)
    insert_predictions(engine, answered + silent)
    truth = live.set_index("request_id")["default"].astype(str)
    ingest_labels(
        engine,
        [
            LabelRecord(name, truth[r.id.removeprefix(f"{name}-")], prediction_id=r.id)
            for r in answered
        ],
    )
    for r in answered:
        if r.review_sampled:
            value = truth[r.id.removeprefix(f"{name}-")]
            record_review(engine, ReviewRecord(r.id, name, "ann", "labeled", value))
    return answered, live


def test_a_candidate_in_canary_gets_its_own_figures_and_raises_nothing(
    store_engine: Engine, world: dict[str, object], tmp_path: Path
) -> None:
    name = "canary-test"
    _, live = _trial_world(store_engine, world, name, 400, canary_every=5)
    champion = replace(world["baseline"], model_name=name)  # type: ignore[type-var]
    candidate = replace(champion, model_version="2")
    candidate.save(baseline_path(tmp_path / ".decayguard", name, "2"))
    record_deployment(store_engine, name, "1")
    record_deployment(store_engine, name, "2", role="challenger", mode="canary")
    cfg = _config()
    cfg.root = tmp_path
    cfg.model.name = name
    cfg.monitoring.window_hours = 24 * 30
    cfg.monitoring.review_window_hours = 24 * 30
    cfg.monitoring.labels_window_hours = 24 * 30
    cfg.monitoring.min_reviews = 20
    end = live["event_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    report = run_checks(cfg, store_engine, champion, end)

    # The champion is judged on every request it scored: 320 answered, 80 silently.
    assert report.n_predictions == 400
    assert report.verdicts["realized"].n == 400
    assert report.verdicts["realized"].coverage == pytest.approx(1.0)
    assert report.verdicts["review"].n == 100
    assert report.verdicts["realized"].metrics["accuracy"].value > 0.8
    assert not report.decayed, report.decay_reason
    # The candidate (the champion's opposite) has figures of its own, under its version...
    arm = report.arms["2"]
    assert (arm.role, arm.n_predictions) == ("challenger", 400)
    assert arm.verdicts["realized"].n == 400
    assert arm.verdicts["realized"].metrics["accuracy"].value < 0.2
    assert arm.verdicts["review"].metrics["accuracy"].value < 0.2
    assert "accuracy" in arm.verdicts["proxy"].metrics
    # ...which would breach the 0.8 threshold, but decide nothing and signal nothing.
    assert not any(v.decisions for v in arm.verdicts.values())
    rules = [s.rule for s in report.signals]
    assert sorted(rules) == sorted(set(rules)), "one signal per rule: the champion's"
    assert not [s.rule for s in report.signals if s.firing and s.rule.startswith("decay.")]
    points = read_metric_points(store_engine, name, metric="realized.accuracy")
    by_version = points.set_index("model_version")["value"]
    assert by_version["1"] > 0.8
    assert by_version["2"] < 0.2
    stored = read_metric_points(store_engine, name)
    decisions = stored[stored["metric"].str.startswith("decay.")]
    assert set(decisions["model_version"]) == {"1"}, "no decision points for the candidate"
    assert len(stored[stored["model_version"] == "2"]) == len(arm.points) > 20
    summary = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert summary["decayed"] is False
    assert summary["arms"]["2"]["role"] == "challenger"
    assert "decayed" not in summary["arms"]["2"]
    assert summary["arms"]["2"]["verdicts"]["realized"]["metrics"]["accuracy"]["value"] < 0.2
    assert "release judge" in summary["arms"]["2"]["verdicts"]["realized"]["reason"]


def test_a_candidate_without_a_baseline_is_reported_without_figures(
    store_engine: Engine, world: dict[str, object], tmp_path: Path
) -> None:
    name = "nobaseline-test"
    _, live = _trial_world(store_engine, world, name, 150, canary_every=3)
    record_deployment(store_engine, name, "1")
    record_deployment(store_engine, name, "2", role="challenger", mode="shadow")
    cfg = _config()
    cfg.root = tmp_path
    cfg.model.name = name
    cfg.monitoring.window_hours = 24 * 30
    end = live["event_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    baseline = replace(world["baseline"], model_name=name)  # type: ignore[type-var]
    report = run_checks(cfg, store_engine, baseline, end)
    arm = report.arms["2"]
    assert arm.n_predictions == 150
    assert "no monitoring baseline" in arm.note
    assert arm.verdicts == {}
    assert set(read_metric_points(store_engine, name)["model_version"]) == {"1"}
