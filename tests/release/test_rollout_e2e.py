"""The rollout by itself, on the real components: the judge promotes a better challenger
through shadow and canary, and rolls a worse one back.

The world is the simulator's after its concept shift: the champion (trained before it) has
decayed; a retrained challenger passes the gate. Traffic goes on through the real MLServer
(post-shift applicants, with their true outcomes arriving later), and ``advance`` runs every
two simulated hours, as the release flow would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from decayguard.config import DecayguardConfig
from decayguard.registry import export_model
from decayguard.registry.mlflow_registry import registry_from_config
from decayguard.release.champion import deploy_exported
from decayguard.release.run import AdvanceOutcome, advance
from decayguard.serving import ServingProcess
from decayguard.serving.deploy import serving_state
from decayguard.sim.population import FEATURE_NAMES
from decayguard.sim.retrain_world import build_retrain_world
from decayguard.sim.simulation import Simulation
from decayguard.sim.traffic import replay_traffic
from decayguard.sim.training import build_pipeline
from decayguard.store import LabelRecord, count_predictions, create_store_engine, ingest_labels
from decayguard.store.releases import release_history
from decayguard.training.gating import gate_once
from decayguard.training.retrain import RetrainTrigger, retrain_once

pytestmark = pytest.mark.slow
STEP = timedelta(hours=2)


class Continuation:
    """More of the world after its end: post-shift applicants resampled at ``per_hour``, each
    outcome arriving after its original delay times ``delay_scale``."""

    def __init__(
        self, sim: Simulation, *, per_hour: int = 60, delay_scale: float = 0.25, seed: int = 0
    ) -> None:
        frame = sim.frame
        onset = max(o.start for o in sim.onsets if o.kind == "concept")
        post = frame[(frame["event_timestamp"] >= pd.Timestamp(onset) + pd.Timedelta(days=1))]
        self.rows = post[post["label_arrival"].notna()].reset_index(drop=True)
        self.truth = sim.truth()
        self.per_hour, self.delay_scale = per_hour, delay_scale
        self.rng = np.random.default_rng(seed)
        self.pending: list[tuple[pd.Timestamp, str, str]] = []
        self.n = 0

    def traffic(self, t0: datetime, t1: datetime) -> pd.DataFrame:
        hours = (t1 - t0) / timedelta(hours=1)
        k = int(self.per_hour * hours)
        picked = self.rows.iloc[self.rng.integers(0, len(self.rows), k)].copy()
        offsets = np.sort(self.rng.uniform(0, (t1 - t0).total_seconds(), k))
        when = pd.Timestamp(t0) + pd.to_timedelta(offsets, unit="s")
        delay = (picked["label_arrival"] - picked["event_timestamp"]) * self.delay_scale
        ids = [f"cont-{self.n + i:06d}" for i in range(k)]
        self.n += k
        for pid, original, at in zip(
            ids, picked["request_id"], when + delay.to_numpy(), strict=True
        ):
            self.pending.append((pd.Timestamp(at), pid, str(self.truth[original])))
        return picked.assign(request_id=ids, event_timestamp=when)

    def labels_due(self, until: datetime) -> list[tuple[str, str]]:
        due = [(pid, value) for at, pid, value in self.pending if at < pd.Timestamp(until)]
        self.pending = [p for p in self.pending if p[0] >= pd.Timestamp(until)]
        return due


@dataclass
class World:
    cfg: DecayguardConfig
    sim: Simulation
    now: datetime
    url: str
    challenger: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("rollout") / "project"
    built = build_retrain_world(
        folder,
        config_overrides={
            # matured labels from after the shift only: the challenger learns the world as
            # it is now (labels take days to mature: the world runs 14 days past the shift)
            "features": {"training_window": "last_n_days", "training_window_days": 12},
            "training": {"min_labels": 300, "min_hours_between": 0, "holdout_days": 3},
            "gate": {"n_resamples": 500},
            "release": {
                "min_shadow_hours": 4,
                "canary_hours": 4,
                "min_labels": 100,
                "canary_share": 0.3,
                "max_hours": 96,
                "min_requests": 50,
            },
        },
        days=35,
    )
    cfg = built.cfg
    trained = retrain_once(cfg, RetrainTrigger("decay", "concept shift"), now=built.now)
    assert trained.status == "registered", trained.message
    assert trained.version is not None
    report = gate_once(cfg, trained.version, registry=registry_from_config(cfg))
    assert report.passed, report.reason
    server = ServingProcess.from_config(cfg).start()
    try:
        server.wait_ready(120)
        yield World(cfg, built.sim, built.now, server.url, trained.version)
    finally:
        server.stop()


def _run(world: World, more: Continuation, t: datetime, expect_rows: int) -> datetime:
    """One step of the world: traffic through MLServer, its log in the store, labels due."""
    name = world.cfg.model.name
    rows = more.traffic(t, t + STEP)
    state = serving_state(world.url, name) or {}
    arms = 2 if state.get("challenger_version") else 1
    report = replay_traffic(world.url, name, rows, concurrency=4)
    assert report.failures == 0
    engine = create_store_engine(world.cfg.resolved_store_url)
    try:
        deadline = time.monotonic() + 60
        while count_predictions(engine, name) < expect_rows + len(rows) * arms:
            assert time.monotonic() < deadline, "the prediction log did not reach the store"
            time.sleep(0.2)
        due = more.labels_due(t + STEP)
        ingest_labels(engine, [LabelRecord(name, v, prediction_id=p) for p, v in due])
        return t + STEP
    finally:
        engine.dispose()


def _count(world: World) -> int:
    engine = create_store_engine(world.cfg.resolved_store_url)
    try:
        return count_predictions(engine, world.cfg.model.name)
    finally:
        engine.dispose()


def _trial(
    world: World, more: Continuation, t: datetime, done: str, steps: int = 40
) -> tuple[datetime, list[AdvanceOutcome]]:
    """Advance every step until ``done`` is the candidate's fate (or the champion)."""
    outcomes = []
    for _ in range(steps):
        t = _run(world, more, t, _count(world))
        outcome = advance(world.cfg, now=t)
        outcomes.append(outcome)
        if any(s.to_stage == done for s in outcome.steps):
            return t, outcomes
    engine = create_store_engine(world.cfg.resolved_store_url)
    try:
        history = [
            (h["version"], h["to_stage"], h["reason"])
            for h in release_history(engine, world.cfg.model.name)
        ]
    finally:
        engine.dispose()
    pytest.fail(f"no {done!r} after {steps} steps: {[o.message for o in outcomes[-3:]]} {history}")


def _stages(world: World, version: str) -> list[tuple[str, str]]:
    engine = create_store_engine(world.cfg.resolved_store_url)
    try:
        return [
            (t["to_stage"], t["actor"])
            for t in release_history(engine, world.cfg.model.name, version)
        ]
    finally:
        engine.dispose()


def test_the_judge_promotes_a_better_challenger_and_rolls_back_a_worse_one(world: World) -> None:
    name, v2 = world.cfg.model.name, world.challenger
    more = Continuation(world.sim)
    first = advance(world.cfg, now=world.now)
    assert [s.to_stage for s in first.steps] == ["shadow"], first.message
    state = serving_state(world.url, name)
    assert state is not None
    assert (state["mode"], state["challenger_version"]) == ("shadow", v2)

    t, outcomes = _trial(world, more, world.now, done="champion")
    promoted = outcomes[-1]
    assert promoted.champion == v2
    assert promoted.verdict is not None
    assert promoted.verdict["verdict"] == "non_inferior"
    assert [s for s, _ in _stages(world, v2)] == [
        "registered",
        "validated",
        "shadow",
        "canary",
        "champion",
    ]
    assert {a for s, a in _stages(world, v2) if s in ("shadow", "canary", "champion")} == {
        "decayguard"
    }
    state = serving_state(world.url, name)
    assert state is not None
    assert (state["champion_version"], state["challenger_version"]) == (v2, None)

    # A worse model on trial (blind to debt_ratio, the strongest feature), put there by hand.
    recent = more.rows
    blind = recent[list(FEATURE_NAMES)].assign(debt_ratio=0.0)
    model = build_pipeline().fit(blind, recent["default"].astype(int))
    folder = world.cfg.path(world.cfg.project.state_dir) / "artifacts" / name / "blind"
    export_model(
        model,
        folder,
        model_name=name,
        model_version="blind",
        features=world.cfg.model.features,
        reference=recent[list(FEATURE_NAMES)],
        positive_class="1",
        overwrite=True,
    )
    holdout = recent.assign(default=recent["default"].astype(int).astype(str))
    deploy_exported(
        world.cfg,
        None,
        challenger=folder,
        stage="shadow",
        holdout=holdout,
        actor="test",
        reason="a worse model on trial",
        now=t,
    )
    t, outcomes = _trial(world, more, t, done="rolled_back")
    rolled = outcomes[-1]
    assert rolled.champion == v2
    assert rolled.candidate is None
    assert "worse" in rolled.steps[-1].reason
    assert [s for s, _ in _stages(world, "blind")][-1] == "rolled_back"
    state = serving_state(world.url, name)
    assert state is not None
    assert (state["champion_version"], state["challenger_version"]) == (v2, None)


def test_an_infrastructure_breach_rolls_back_at_once_without_labels(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard's wiring: serving health that says the challenger fails (as scraped from
    MLServer's metrics port, which tests/serving checks for real) rolls it back on the first
    run, before a single label, whatever the judge would say. Runs after the test above."""
    from decayguard.release import run as release_run
    from decayguard.serving.arm_metrics import ArmHealth

    name = world.cfg.model.name
    engine = create_store_engine(world.cfg.resolved_store_url)
    try:
        champion = [h for h in release_history(engine, name) if h["to_stage"] == "champion"][-1]
    finally:
        engine.dispose()
    folder = world.cfg.path(world.cfg.project.state_dir) / "artifacts" / name / "blind"
    t = champion["created_at"] + timedelta(days=2)
    # any model will do: the health figures below are what the guard judges
    export_model(
        build_pipeline().fit(
            world.sim.frame[list(FEATURE_NAMES)].iloc[:500],
            world.sim.frame["default"].iloc[:500].astype(int),
        ),
        folder.with_name("sick"),
        model_name=name,
        model_version="sick",
        features=world.cfg.model.features,
        reference=world.sim.frame[list(FEATURE_NAMES)].iloc[:500],
        positive_class="1",
        overwrite=True,
    )
    holdout = world.sim.frame.iloc[:500].assign(
        default=world.sim.frame["default"].iloc[:500].astype(int).astype(str)
    )
    deploy_exported(
        world.cfg,
        None,
        challenger=folder.with_name("sick"),
        stage="shadow",
        holdout=holdout,
        actor="test",
        reason="on trial",
        now=t,
    )
    sick = {
        champion["version"]: ArmHealth(champion["version"], 1000, 0, 2.0),
        "sick": ArmHealth("sick", 1000, 120, 400.0),
    }
    monkeypatch.setattr(
        "decayguard.serving.arm_metrics.read_arm_health", lambda url, model, timeout=5.0: sick
    )
    outcome = release_run.advance(world.cfg, now=t + timedelta(minutes=5))
    assert [s.to_stage for s in outcome.steps] == ["rolled_back"]
    assert outcome.steps[0].reason.startswith("infrastructure breach")
    assert outcome.verdict is not None
    assert outcome.verdict["n"] == 0  # no label had arrived
    state = serving_state(world.url, name)
    assert state is not None
    assert (state["champion_version"], state["challenger_version"]) == (champion["version"], None)


def test_a_challenger_whose_baseline_cannot_be_fitted_is_rolled_back_not_wedged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A side effect that fails for good (here the challenger's baseline) must not leave the
    transition unapplied for ever: a compensating rollback names the error, the champion
    serves on, and the next run has nothing left to do."""
    from decayguard.registry.manifest import ArtifactManifest
    from decayguard.release import champion as champion_module
    from decayguard.release.stages import Action, Stage
    from decayguard.store.releases import Move, apply_moves, get_release, register_release

    name = world.cfg.model.name
    frame = world.sim.frame.iloc[:500]
    folder = world.cfg.path(world.cfg.project.state_dir) / "artifacts" / name / "nobase"
    export_model(
        build_pipeline().fit(frame[list(FEATURE_NAMES)], frame["default"].astype(int)),
        folder,
        model_name=name,
        model_version="nobase",
        features=world.cfg.model.features,
        reference=frame[list(FEATURE_NAMES)],
        positive_class="1",
        overwrite=True,
    )
    engine = create_store_engine(world.cfg.resolved_store_url)
    try:
        champion = [h for h in release_history(engine, name) if h["to_stage"] == "champion"][-1]
        t = champion["created_at"] + timedelta(days=3)
        sha = ArtifactManifest.read(folder).sha256
        register_release(engine, name, "nobase", artifact_uri=str(folder), artifact_sha256=sha)
        apply_moves(
            engine,
            name,
            [Move("nobase", Action.START_SHADOW, expected=Stage.REGISTERED)],
            actor="test",
            reason="on trial",
            now=t,
        )
    finally:
        engine.dispose()

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("the holdout has one class only")

    monkeypatch.setattr(champion_module, "fit_baseline_from_lineage", broken)
    from decayguard.release import run as release_run

    outcome = release_run.advance(world.cfg, now=t)
    engine = create_store_engine(world.cfg.resolved_store_url)
    try:
        release = get_release(engine, name, "nobase")
        assert release is not None
        assert release.stage == Stage.ROLLED_BACK
        last = release_history(engine, name, "nobase")[-1]
        assert "no monitoring baseline could be fitted" in last["reason"]
        assert "one class only" in last["reason"]
    finally:
        engine.dispose()
    assert outcome.champion == champion["version"]
    state = serving_state(world.url, name)
    assert state is not None
    assert (state["champion_version"], state["challenger_version"]) == (champion["version"], None)
    again = release_run.advance(world.cfg, now=t + timedelta(hours=1))
    assert again.steps == []
    assert again.recovered == []
