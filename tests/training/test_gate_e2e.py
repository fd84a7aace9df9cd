"""The gate end to end: a real MLServer serving the champion, MLflow on SQLite, Feast.

After the simulated concept shift a challenger trained on the recent (post-shift) labels
passes; one trained without the model's most important feature is rejected, with a reason
naming the failed criterion, loses its alias and is recorded as rejected.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from decayguard.alerts.incidents import open_incidents
from decayguard.config import DecayguardConfig, load_config
from decayguard.errors import ConfigError
from decayguard.registry.interface import CHALLENGER_ALIAS
from decayguard.registry.mlflow_registry import registry_from_config
from decayguard.serving import ServingProcess
from decayguard.sim.retrain_world import build_retrain_world
from decayguard.store import count_predictions, create_store_engine, read_audit
from decayguard.store.deployments import active_version
from decayguard.store.gate_reports import latest_gate_report
from decayguard.training.gating import gate_once, gold_rows, stored_gate_report
from decayguard.training.retrain import RetrainTrigger, retrain_once

pytestmark = pytest.mark.slow
DECAYGUARD = Path(sys.executable).parent / "decayguard"

WITHOUT_DEBT_RATIO = '''
from decayguard.sim.training import build_pipeline


def train_without_debt_ratio(training):
    """The demo's pipeline, blind to debt_ratio (the strongest feature): trained on a
    constant, it learns a zero weight for it, and still accepts the model's features."""
    features = training.features.assign(debt_ratio=0.0)
    return build_pipeline().fit(features, training.labels.astype(int))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DecayguardConfig, str]]:
    folder = tmp_path_factory.mktemp("gate") / "project"
    world = build_retrain_world(
        folder,
        config_overrides={
            # Recent labels only: the challenger learns the world after the shift.
            "features": {"training_window": "last_n_days", "training_window_days": 21},
            "gate": {"smoke_test": True, "smoke_requests": 60, "n_resamples": 1000},
            "training": {"min_labels": 300, "min_hours_between": 0},
        },
    )
    (folder / "worse_train.py").write_text(textwrap.dedent(WITHOUT_DEBT_RATIO))
    cfg = world.cfg
    server = ServingProcess.from_config(cfg).start()
    try:
        server.wait_ready(120)
        yield cfg, world.now.isoformat()
    finally:
        server.stop()


def _with_train_function(cfg: DecayguardConfig, function: str) -> DecayguardConfig:
    path = cfg.root / "decayguard.yaml"
    data = yaml.safe_load(path.read_text())
    data["model"]["train_function"] = function
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(cfg.root)


def test_a_post_shift_challenger_passes_and_a_worse_one_is_rejected(
    project: tuple[DecayguardConfig, str],
) -> None:
    from datetime import datetime

    cfg, now_text = project
    now = datetime.fromisoformat(now_text)
    server_url = f"http://{cfg.serving.host}:{cfg.serving.http_port}"
    engine = create_store_engine(cfg.resolved_store_url)
    predictions_before = count_predictions(engine, cfg.model.name)
    registry = registry_from_config(cfg)

    good = retrain_once(cfg, RetrainTrigger("decay", "concept shift"), now=now, registry=registry)
    assert good.status == "registered", good.message
    assert good.version is not None
    passed = gate_once(cfg, good.version, registry=registry, server_url=server_url)
    assert passed.passed, passed.reason
    assert passed.rows["holdout"] > 300
    assert passed.smoke is not None
    assert passed.smoke["passed"]
    assert registry.get(cfg.model.name, good.version).tags["gate"] == "passed"
    challenger = registry.by_alias(cfg.model.name, CHALLENGER_ALIAS)
    assert challenger is not None
    assert challenger.version == good.version

    cfg_bad = _with_train_function(cfg, "worse_train:train_without_debt_ratio")
    bad = retrain_once(cfg_bad, RetrainTrigger("manual", "worse"), now=now, registry=registry)
    assert bad.status == "registered", bad.message
    assert bad.version is not None
    rejected = gate_once(cfg_bad, bad.version, registry=registry, server_url=server_url)
    assert not rejected.passed
    assert "metric.accuracy" in rejected.reason
    assert "Δ" in rejected.reason
    record = registry.get(cfg.model.name, bad.version)
    assert record.tags["gate"] == "failed"
    assert CHALLENGER_ALIAS not in record.aliases
    assert rejected.smoke is None  # no need to smoke-test a statistically worse model

    # The record: store reports, the audit trail, the MLflow run's metrics; serving untouched.
    row = latest_gate_report(engine, cfg.model.name, bad.version)
    assert row is not None
    assert not row["passed"]
    stored = stored_gate_report(cfg, bad.version)
    assert stored is not None
    assert stored.reason == rejected.reason
    actions = [e["action"] for e in read_audit(engine, cfg.model.name)]
    assert "gate.passed" in actions
    assert "release.rejected" in actions
    assert "gate_passed" in registry.get(cfg.model.name, bad.version).metrics
    assert active_version(engine, cfg.model.name) == "1"
    assert count_predictions(engine, cfg.model.name) == predictions_before
    incidents = open_incidents(engine, cfg.model.name)
    assert [i["rule"] for i in incidents] == ["gate"]
    assert "rejected by the gate" in str(incidents[0]["message"])
    engine.dispose()

    # The command shows the recorded report: plain text off a terminal, exit status 1.
    shown = subprocess.run(
        [str(DECAYGUARD), "gate", bad.version, "--project", str(cfg.root)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 1, shown.stderr
    assert f"gate on version {bad.version} against champion 1: failed" in shown.stdout
    assert "metric.accuracy" in shown.stdout
    assert "\x1b[" not in shown.stdout


def test_a_gold_set_without_the_label_is_a_config_error_naming_it(
    project: tuple[DecayguardConfig, str], tmp_path: Path
) -> None:
    cfg, _ = project
    gold = tmp_path / "gold.csv"
    gold.write_text("income,debt_ratio\n1.0,0.5\n")
    broken = cfg.model_copy(update={"gate": cfg.gate.model_copy(update={"gold_set": str(gold)})})
    with pytest.raises(ConfigError, match=r"gate\.gold_set: .*gold\.csv has no column 'age'"):
        gold_rows(broken)
    good = tmp_path / "gold.parquet"
    frame = pd.DataFrame(
        {f.name: [1.0, 2.0] for f in cfg.model.features if f.dtype == "float"}
        | {"employment": ["salaried", "retired"], cfg.model.target: ["0", None]}
    )
    frame.to_parquet(good)
    loaded = gold_rows(
        cfg.model_copy(update={"gate": cfg.gate.model_copy(update={"gold_set": str(good)})})
    )
    assert loaded is not None
    assert len(loaded) == 1  # rows without a label cannot be scored
