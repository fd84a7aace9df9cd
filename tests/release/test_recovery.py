"""kill -9 between any two steps of a promotion or a rollback: the next run recovers.

Real components: MLServer serving the project, MLflow on SQLite, the store on SQLite, the
Feast repo the challenger was trained from. A child process promotes (or rolls back) with
``DECAYGUARD_FAILPOINT`` naming one step, and SIGKILLs itself there; then ``advance`` runs in
this process, and afterwards exactly one champion serves and the store, MLServer's settings
file, the running server and MLflow all name the same version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from decayguard.config import DecayguardConfig
from decayguard.registry.interface import CHAMPION_ALIAS
from decayguard.registry.mlflow_registry import registry_from_config
from decayguard.release.failpoints import ENV, POINTS
from decayguard.release.run import advance
from decayguard.release.stages import Stage
from decayguard.serving import ServingProcess
from decayguard.serving.deploy import models_dir_for, read_deployment, serving_state
from decayguard.sim.retrain_world import build_retrain_world
from decayguard.sim.simulation import Simulation
from decayguard.sim.traffic import to_v2_request
from decayguard.store import create_store_engine
from decayguard.store.deployments import active_version
from decayguard.store.releases import (
    candidate_release,
    list_releases,
    release_history,
    unapplied_transitions,
)
from decayguard.training.gating import gate_once
from decayguard.training.retrain import RetrainTrigger, retrain_once

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from decayguard.config import load_config
    from decayguard.release import promote, rollback

    cfg = load_config(Path(sys.argv[1]))
    verb, version = sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
    (promote if verb == "promote" else rollback)(
        cfg, version, reason=f"crash test: {verb}", actor="test"
    )
    """
)


@dataclass(frozen=True)
class Served:
    cfg: DecayguardConfig
    sim: Simulation
    url: str
    challenger: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("recovery") / "project"
    world = build_retrain_world(
        folder,
        config_overrides={
            "features": {"training_window": "last_n_days", "training_window_days": 21},
            "training": {"min_labels": 300, "min_hours_between": 0},
            "gate": {"n_resamples": 500},
        },
    )
    cfg = world.cfg
    registry = registry_from_config(cfg)
    trained = retrain_once(cfg, RetrainTrigger("manual", "recovery test"), now=world.now)
    assert trained.status == "registered", trained.message
    assert trained.version is not None
    report = gate_once(cfg, trained.version, registry=registry)
    assert report.passed, report.reason
    server = ServingProcess.from_config(cfg).start()
    try:
        server.wait_ready(120)
        yield Served(cfg, world.sim, server.url, trained.version)
    finally:
        server.stop()


def _serving_version(served: Served) -> str:
    """The version that answers a real request (mode champion: every request)."""
    row = served.sim.live_frame().iloc[0]
    features = {k: row[k] for k in ("income", "debt_ratio", "age", "credit_lines", "utilization")}
    features["employment"] = row["employment"]
    body = to_v2_request(
        features,
        f"probe-{os.urandom(4).hex()}",
        row["event_timestamp"],
        entity_key=int(row["applicant_id"]),
    )
    name = served.cfg.model.name
    answer = httpx.post(f"{served.url}/v2/models/{name}/infer", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    version: str = answer.json()["parameters"]["model_version"]
    return version


def assert_consistent(served: Served, expected: str) -> None:
    cfg, name = served.cfg, served.cfg.model.name
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        assert unapplied_transitions(engine, name) == []
        assert [r.version for r in list_releases(engine, name, [Stage.CHAMPION])] == [expected]
        assert candidate_release(engine, name) is None
        assert active_version(engine, name) == expected
        assert active_version(engine, name, role="challenger") is None
    finally:
        engine.dispose()
    settings = read_deployment(models_dir_for(cfg), name)
    assert settings is not None
    assert settings.champion.model_version == expected
    assert settings.challenger is None
    state = serving_state(served.url, name)
    assert state is not None
    assert (state["champion_version"], state["challenger_version"]) == (expected, None)
    assert _serving_version(served) == expected
    record = registry_from_config(cfg).by_alias(name, CHAMPION_ALIAS)
    assert record is not None
    assert record.version == expected


def _crash(served: Served, point: str, verb: str, version: str | None) -> None:
    env = {**os.environ, ENV: point}
    args = [sys.executable, "-c", CHILD, str(served.cfg.root), verb]
    if version is not None:
        args.append(version)
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert done.returncode == -9, f"{point}: exit {done.returncode}\n{done.stderr[-2000:]}"


def test_every_step_of_a_promotion_and_a_rollback_survives_kill_9(served: Served) -> None:
    assert_consistent(served, "1")
    expected, consistent = "1", 0
    for i, point in enumerate(POINTS * 2):
        # promote the challenger, then roll it back, then again: each step is killed once in
        # each direction
        verb = "promote" if expected == "1" else "rollback"
        _crash(served, point, verb, served.challenger if verb == "promote" else None)
        outcome = advance(served.cfg)
        assert outcome.recovered, f"{point} ({verb}): nothing left to recover?"
        expected = served.challenger if verb == "promote" else "1"
        assert_consistent(served, expected)
        consistent += 1
        assert i + 1 == consistent
    assert consistent == 2 * len(POINTS)
    engine = create_store_engine(served.cfg.resolved_store_url)
    try:
        history = release_history(engine, served.cfg.model.name)
    finally:
        engine.dispose()
    promotions = [t for t in history if t["to_stage"] == "champion" and t["actor"] == "test"]
    assert len(promotions) == 2 * len(POINTS)  # one version into service per step
    assert all(t["applied_at"] is not None for t in history)
