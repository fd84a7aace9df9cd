"""``decayguard retrain``, ``models``, ``lineage [--verify]`` and the ``train.py`` of ``init``.

The real command (``.venv/bin/decayguard``, no terminal) runs on a project from
:func:`decayguard.sim.retrain_world.build_retrain_world` with the embedded MLflow registry
(SQLite): one world per session, copied per module, trained with the scaffolded ``train.py``.
The tests of one module share that world and run in file order: the retraining first, then
what reads it, then what tampers with the store and the Feast source, then the failures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from decayguard import load_config
from decayguard.errors import ConfigError
from decayguard.scaffold import scaffold_project
from decayguard.store import LabelRecord, create_store_engine, ingest_labels
from decayguard.store.deployments import active_artifact_sha256, active_version
from decayguard.store.labels import labels_as_of
from decayguard.training import TrainingMetadata, TrainingSet

pytestmark = pytest.mark.slow

DECAYGUARD = str(Path(sys.executable).parent / "decayguard")
ANSI = "\x1b["
UNTIL_DAY = 20.0
BAD_TRAIN = '''\
"""Training functions that go wrong, for the CLI tests."""

import time


def explode(training):
    raise RuntimeError("the training data looks wrong")


def nothing(training):
    return None


def dawdle(training):
    time.sleep(120)
'''


@dataclass(frozen=True)
class World:
    folder: Path
    now: datetime
    model: str


def world_template(factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    """One built world per session (the build takes ~30 s): copy it, never change it."""
    from decayguard.sim.retrain_world import build_retrain_world

    root = factory.getbasetemp() / f"retrain-world-day{UNTIL_DAY:g}"
    marker = root / ".built"
    if not marker.exists():
        world = build_retrain_world(root / "project", until_day=UNTIL_DAY)
        marker.write_text(world.now.isoformat())
    return root / "project", datetime.fromisoformat(marker.read_text())


def run(
    world: World, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"FORCE_COLOR", "TTY_COMPATIBLE", "CLICOLOR_FORCE"}
    }
    out = subprocess.run(
        [DECAYGUARD, *args],
        cwd=world.folder,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={
            **base,
            "COLUMNS": "80",  # rich must not wrap at 80 off a terminal
            "TERM": "xterm-256color",  # nor colour, whatever the terminal type says
            "DO_NOT_TRACK": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **(env or {}),
        },
        timeout=300,
    )
    assert ANSI not in out.stdout
    assert ANSI not in out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The world, with the scaffolded train.py as its training function."""
    template, now = world_template(tmp_path_factory)
    folder = tmp_path_factory.mktemp("cli-world") / "project"
    shutil.copytree(template, folder)
    scaffolded = tmp_path_factory.mktemp("scaffold")
    scaffold_project(scaffolded)
    shutil.copy(scaffolded / "train.py", folder / "train.py")
    (folder / "bad_train.py").write_text(BAD_TRAIN)
    config = yaml.safe_load((folder / "decayguard.yaml").read_text())
    config["model"]["train_function"] = "train:train_model"
    (folder / "decayguard.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return World(folder, now, config["model"]["name"])


@pytest.fixture(scope="module")
def retrained(world: World) -> subprocess.CompletedProcess[str]:
    return run(
        world, "retrain", "--reason", "test: retrain by hand", "--now", world.now.isoformat()
    )


def _line(text: str, *needles: str) -> str:
    lines = [line for line in text.splitlines() if all(n in line for n in needles)]
    assert lines, f"no line with {needles} in:\n{text}"
    return lines[0]


def test_retrain_registers_version_2_as_challenger(
    retrained: subprocess.CompletedProcess[str],
) -> None:
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    out = retrained.stdout
    assert out.startswith("registered version 2 as challenger (")
    assert "version 2 (parent 1), lineage " in out
    for metric in ("accuracy", "roc_auc", "log_loss"):
        row = _line(out, metric).split()
        assert len(row) >= 5, row  # metric, challenger, champion, difference, on one line
    assert _line(out, "training labels: 0: ", ", 1: ")
    assert _line(out, "timings: training set ", " s, fit ", "total ")
    for step in ("building the training set", "fitting train:train_model", "registering"):
        assert _line(retrained.stderr, "retrain: ", step)


def test_models_lists_the_imported_champion_and_the_challenger(
    world: World, retrained: subprocess.CompletedProcess[str]
) -> None:
    out = run(world, "models")
    assert out.returncode == 0, out.stderr
    v1 = _line(out.stdout, " 1 ", "champion", "serving champion", "imported")
    v2 = _line(out.stdout, " 2 ", "challenger", "manual (test: retrain by hand)")
    assert "holdout accuracy" in out.stdout
    cells = [c.strip() for c in v2.split("│")]
    assert float(cells[6]) > 0.5  # its holdout accuracy
    assert float(cells[7]) > 0.5  # the champion's, on the same rows
    assert int(cells[8]) >= 200
    assert len(cells[9]) == 12
    assert int(cells[9], 16) >= 0
    assert [c.strip() for c in v1.split("│")][6] == ""  # no holdout for an imported version


def test_lineage_verify_says_the_same_hash(
    world: World, retrained: subprocess.CompletedProcess[str]
) -> None:
    out = run(world, "lineage", "2", "--verify")
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert _line(text, "version 2 (challenger; trigger manual: test: retrain by hand")
    assert _line(text, "training window: ", "labels from the beginning to ")
    assert _line(text, "holdout: labels from ", "(7.0 days)")
    assert _line(text, "labels as of: ")
    assert _line(text, "label counts: 0: ")
    assert _line(text, "feature service: credit_default_v1 (definition version ")
    assert _line(text, "features: applicant_features:income, ")
    assert _line(text, "offline source: ../data/applicant_features.parquet (SHA-256 ")
    assert _line(text, "lineage hash: ")
    assert text.rstrip().splitlines()[-1].startswith("verified: same hash (")


def test_a_label_corrected_after_labels_as_of_does_not_change_the_rebuilt_set(
    world: World, retrained: subprocess.CompletedProcess[str]
) -> None:
    cfg = load_config(world.folder)
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        as_of = datetime.now(UTC)
        labels = labels_as_of(engine, world.model, as_of)
        in_training = labels[labels["prediction_id"].notna()].sort_values("label_time").iloc[0]
        flipped = "1" if in_training["value"] == "0" else "0"
        result = ingest_labels(
            engine,
            [LabelRecord(world.model, flipped, prediction_id=str(in_training["prediction_id"]))],
        )
    finally:
        engine.dispose()
    assert result.corrected == 1
    out = run(world, "lineage", "2", "--verify", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    check = json.loads(out.stdout)["verification"]
    assert check["same"] is True
    assert check["rebuilt_sha256"] == check["recorded_sha256"]


@pytest.fixture
def tampered_source(world: World, retrained: subprocess.CompletedProcess[str]) -> Iterator[Path]:
    """One feature value the training set used, rewritten in the Feast offline source."""
    prefix = _line(retrained.stdout, "lineage ").rsplit(" ", 1)[-1]
    records = [
        json.loads(path.read_text())
        for path in (world.folder / ".decayguard" / "training").glob("*/lineage.json")
    ]
    lineage = next(r for r in records if r["frame_sha256"].startswith(prefix))
    saved = pd.read_parquet(world.folder / "feature_repo" / lineage["saved_dataset_path"])
    row = saved.sort_values("event_timestamp").iloc[0]
    source = world.folder / "data" / "applicant_features.parquet"
    original = source.read_bytes()
    frame = pd.read_parquet(source)
    mine = frame.index[
        (frame["applicant_id"] == row["applicant_id"])
        & (frame["event_timestamp"] <= row["event_timestamp"])
    ]
    used = frame.loc[mine, "event_timestamp"].idxmax()
    assert np.isclose(frame.loc[used, "income"], row["income"])
    frame.loc[used, "income"] = float(frame.loc[used, "income"]) * 2 + 1
    frame.to_parquet(source, index=False)
    try:
        yield source
    finally:
        source.write_bytes(original)


def test_a_changed_offline_source_fails_verify_naming_it(
    world: World, retrained: subprocess.CompletedProcess[str], tampered_source: Path
) -> None:
    out = run(world, "lineage", "2", "--verify")
    assert out.returncode == 1, out.stdout + out.stderr
    last = out.stdout.rstrip().splitlines()[-1]
    assert last.startswith("not verified: rebuilt training set has SHA-256 ")
    assert "changed since: the offline source files" in last
    assert "the labels" not in last


def _champion(world: World) -> tuple[str | None, str | None]:
    cfg = load_config(world.folder)
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        return active_version(engine, world.model), active_artifact_sha256(engine, world.model)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("explode", "raised RuntimeError: the training data looks wrong"),
        ("dawdle", "still running after training.timeout_minutes (0.05); stopped"),
    ],
)
def test_a_failing_training_function_exits_1_naming_it_and_the_champion_keeps_serving(
    world: World, function: str, expected: str
) -> None:
    before = _champion(world)
    out = run(
        world,
        "retrain",
        "--now",
        world.now.isoformat(),
        env={
            "DECAYGUARD_MODEL__TRAIN_FUNCTION": f"bad_train:{function}",
            "DECAYGUARD_TRAINING__TIMEOUT_MINUTES": "0.05",
        },
    )
    assert out.returncode == 1, out.stdout + out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith(
        f"failed: retraining failed, the champion keeps serving: training function "
        f"bad_train:{function}: "
    )
    assert expected in first
    assert "registered" not in out.stdout
    assert _champion(world) == before == ("1", before[1])


def test_retrain_json_prints_the_outcome_of_a_function_returning_none(world: World) -> None:
    before = _champion(world)
    out = run(
        world,
        "retrain",
        "--json",
        "--now",
        world.now.isoformat(),
        env={"DECAYGUARD_MODEL__TRAIN_FUNCTION": "bad_train:nothing"},
    )
    assert out.returncode == 1
    outcome = json.loads(out.stdout)
    assert outcome["status"] == "failed"
    assert outcome["message"] == (
        "retraining failed, the champion keeps serving: training function bad_train:nothing: "
        "returned None; it must return the fitted model"
    )
    assert outcome["trigger"] == "manual"
    assert outcome["parent_version"] == "1"
    assert outcome["version"] is None
    assert set(outcome["timings"]) >= {"training_set", "fit_process", "total"}
    assert _champion(world) == before


def test_models_says_when_the_latest_retraining_registered_nothing(
    world: World, retrained: subprocess.CompletedProcess[str]
) -> None:
    out = run(world, "models")
    assert out.returncode == 0, out.stderr
    last = out.stdout.rstrip().splitlines()[-1]
    assert last.startswith("latest retraining registered nothing: failed (started ")
    assert "training function bad_train:" in last


# -- decayguard init: train.py ----------------------------------------------------------------


def _tiny_training_set(weights: list[float] | None) -> TrainingSet:
    rng = np.random.default_rng(3)
    n = 80
    features = pd.DataFrame(
        {
            "income": rng.normal(50_000, 15_000, n),
            "debt_ratio": rng.uniform(0, 1, n),
            "age": rng.integers(20, 70, n).astype(float),
            "credit_lines": rng.integers(0, 10, n).astype(float),
            "utilization": rng.uniform(0, 1, n),
            "employment": rng.choice(["salaried", "self_employed", "unemployed"], n),
        }
    )
    features.loc[3, "income"] = np.nan  # imputed, not an error
    risk = features["debt_ratio"] + features["utilization"] + rng.normal(0, 0.3, n)
    labels = pd.Series(np.where(risk > 1.0, "1", "0"), name="label")
    metadata = TrainingMetadata(
        model_name="credit-default",
        task="binary",
        target="default",
        lineage_hash="0" * 64,
        window={"kind": "all"},
        window_start=None,
        window_end="2026-01-01T00:00:00+00:00",
        holdout_start="2025-12-25T00:00:00+00:00",
        labels_as_of="2026-01-02T00:00:00+00:00",
        label_counts={k: int(v) for k, v in labels.value_counts().items()},
        holdout_rows=0,
    )
    weight = None if weights is None else pd.Series(weights, name="sample_weight")
    return TrainingSet(features, labels, weight, metadata)


def test_init_writes_a_train_py_that_fits_a_training_set(tmp_path: Path) -> None:
    written = scaffold_project(tmp_path / "proj")
    assert tmp_path / "proj" / "train.py" in written
    cfg = load_config(tmp_path / "proj")
    assert cfg.model.train_function == "train:train_model"
    assert cfg.training.holdout_days == 7
    assert cfg.training.min_labels == 200
    assert cfg.training.timeout_minutes == 60
    assert cfg.registry.tracking_uri is None
    text = (tmp_path / "proj" / "decayguard.yaml").read_text()
    for key in ("# schedule:", "holdout_days:", "min_hours_between:", "registry:"):
        assert key in text
    spec = importlib.util.spec_from_file_location("scaffolded_train", tmp_path / "proj/train.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    model = module.train_model(_tiny_training_set(None))
    assert list(model.classes_) == ["0", "1"]
    probabilities = model.predict_proba(_tiny_training_set(None).features)
    assert probabilities.shape == (80, 2)
    unseen = _tiny_training_set(None).features.assign(employment="retired")
    assert np.isfinite(model.predict_proba(unseen)).all()  # an unseen category is no error

    # The weights reach the estimator: weight 2 on every row is every row twice (the
    # encoders' statistics do not change under duplication), and not the unweighted fit.
    twice = module.train_model(_tiny_training_set([2.0] * 80))
    base = _tiny_training_set(None)
    doubled = TrainingSet(
        pd.concat([base.features, base.features], ignore_index=True),
        pd.concat([base.labels, base.labels], ignore_index=True),
        None,
        base.metadata,
    )
    duplicated = module.train_model(doubled)
    np.testing.assert_allclose(twice[-1].coef_, duplicated[-1].coef_, rtol=1e-4, atol=1e-6)
    assert not np.allclose(twice[-1].coef_, model[-1].coef_, rtol=1e-3)


def test_init_refuses_to_overwrite_train_py_without_force(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("# mine\n")
    with pytest.raises(ConfigError, match=r"train\.py already exists"):
        scaffold_project(tmp_path)
    assert not (tmp_path / "decayguard.yaml").exists()  # nothing written
    scaffold_project(tmp_path, force=True)
    assert "def train_model" in (tmp_path / "train.py").read_text()


def test_the_training_guide_example_runs() -> None:
    guide = Path(__file__).resolve().parents[2] / "docs" / "training.md"
    text = guide.read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {"__name__": "training_guide"}
    exec(compile(code, str(guide), "exec"), namespace)
    assert namespace["weighted"] is not None
