"""A project that has served the simulator's world for a while, built without servers.

The retraining tests, ``bench/retrain.py`` and the flows tests need a project in the state
the demo reaches after some simulated weeks: a Feast repo over the world's features, a
champion released and recorded, its predictions logged and the labels that arrived by
``until`` in the store. :func:`build_retrain_world` writes exactly that, scoring the traffic
with the exported champion and writing the store directly (no MLServer, no API), so it takes
seconds. The config is the demo's (``model.train_function`` included), with retraining on
decay and the gate's smoke test off (no MLServer runs here).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from decayguard.config import DecayguardConfig
from decayguard.registry import load_model
from decayguard.sim.demo import DemoSettings, _prepare_features, _train_champion
from decayguard.sim.demo_project import fresh_folder, write_config
from decayguard.sim.population import FEATURE_NAMES
from decayguard.sim.simulation import Simulation
from decayguard.store import (
    LabelRecord,
    PredictionRecord,
    create_store_engine,
    ingest_labels,
    insert_predictions,
    upgrade,
)
from decayguard.store.deployments import active_artifact_sha256, active_artifact_uri


@dataclass(frozen=True)
class RetrainWorld:
    """The project folder, its config, the simulation behind it and its clock."""

    folder: Path
    cfg: DecayguardConfig
    sim: Simulation
    now: datetime
    """The simulated time the store has reached: traffic and labels up to here."""
    predictions: int
    labels: int


def build_retrain_world(
    folder: Path,
    *,
    seed: int = 7,
    task: str = "binary",
    until_day: float | None = None,
    history_labels: bool = True,
    config_overrides: dict[str, dict[str, Any]] | None = None,
    days: int = 28,
) -> RetrainWorld:
    """Write the project into ``folder`` (emptied first, like the demo's).

    ``until_day``: days after deployment the world has run (default: the whole scenario).
    ``history_labels``: also import the pre-deployment labels, as labels by entity and time
    (what a team does when it starts with decayguard on a model it already had).
    ``config_overrides``: section to keys merged into the written ``decayguard.yaml``.
    ``days``: the scenario's length (longer: more time after the concept shift on day 21).
    """
    import yaml

    settings = DemoSettings(
        folder=folder,
        fast=True,
        seed=seed,
        task=task,
        days=days,
        label_delay_days=3.0,
        closed_loop=False,  # the tests drive retraining, the gate and the release themselves
    )
    root = fresh_folder(folder)
    target = settings.scenario.simulate().target()
    cfg = write_config(root, "json://127.0.0.1:9/none", secrets.token_hex(8), settings, target)
    # No MLServer runs in this world: the gate decides on statistics alone.
    overrides: dict[str, dict[str, Any]] = {
        "training": {"on_decay": True},
        "gate": {"smoke_test": False},
    }
    for section, keys in (config_overrides or {}).items():
        overrides.setdefault(section, {}).update(keys)
    if overrides:
        data = yaml.safe_load((root / "decayguard.yaml").read_text())
        for section, keys in overrides.items():
            data.setdefault(section, {}).update(keys)
        (root / "decayguard.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        from decayguard.config import load_config

        cfg = load_config(root)
    sim = settings.scenario.simulate()
    repo = _prepare_features(cfg, sim)
    _train_champion(cfg, sim, repo)
    start = pd.Timestamp(sim.scenario.deployment_time)
    end = pd.Timestamp(sim.scenario.end)
    if until_day is not None:
        end = min(end, start + pd.Timedelta(days=until_day))
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        upgrade(engine)
        live = sim.between(start.to_pydatetime(), end.to_pydatetime())
        n_predictions = _log_predictions(cfg, engine, live)
        due = sim.labels_due(start.to_pydatetime(), end.to_pydatetime())
        records = [
            LabelRecord(cfg.model.name, str(r.value), prediction_id=str(r.prediction_id))
            for r in due.itertuples()
        ]
        if history_labels:
            history = sim.reference_frame()
            values = target.to_text(history[target.column])
            records += [
                LabelRecord(
                    cfg.model.name,
                    str(value),
                    entity_key=str(key),
                    event_time=when.to_pydatetime(),
                    source="history",
                )
                for key, when, value in zip(
                    history["applicant_id"], history["event_timestamp"], values, strict=True
                )
            ]
        ingest_labels(engine, records)
    finally:
        engine.dispose()
    return RetrainWorld(root, cfg, sim, end.to_pydatetime(), n_predictions, len(records))


def _log_predictions(cfg: DecayguardConfig, engine: Any, live: pd.DataFrame) -> int:
    folder = active_artifact_uri(engine, cfg.model.name)
    sha256 = active_artifact_sha256(engine, cfg.model.name)
    assert folder is not None
    assert sha256 is not None
    exported = load_model(Path(folder), sha256=sha256)
    scores = exported.model.predict_scores(live[list(FEATURE_NAMES)])
    labels, score = exported.score_columns(scores)
    times = [t.to_pydatetime() for t in pd.to_datetime(live["event_timestamp"], utc=True)]
    records = [
        PredictionRecord(
            id=str(row.request_id),
            ts=times[i],
            model_name=cfg.model.name,
            model_version=exported.manifest.model_version,
            arm="champion",
            inputs={f: getattr(row, f) for f in FEATURE_NAMES},
            prediction=labels[i],
            score=score[i],
            inclusion_prob=0.05,
            entity_key=str(row.applicant_id),
        )
        for i, row in enumerate(live.itertuples(index=False))
    ]
    for i in range(0, len(records), 5000):
        insert_predictions(engine, records[i : i + 5000])
    return len(records)
