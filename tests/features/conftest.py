"""Real Feast repos for the feature tests: scaffolded by `decayguard init`, applied by Feast.

One repo per online store (SQLite, the local PostgreSQL, the local Redis), each built once per
session over the same seeded offline source. The source is built so that leaks are visible:
``credit_lines`` holds the source row's number, so every feature value in a training row says
which source row (and so which event and write times) it came from. Rows are written (``created``)
up to three days after their event time, so many are dated before a label but written after it.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis
import yaml

from decayguard.config import DecayguardConfig, load_config
from decayguard.features import FeatureRepo, FeatureServer
from decayguard.features._feast import feast_env
from decayguard.features.scaffold import render_definitions
from decayguard.scaffold import scaffold_project

VENV_BIN = Path(sys.executable).parent
FEATURES = ["income", "debt_ratio", "age", "credit_lines", "utilization", "employment"]
SERVICE = "credit_default_v1"
KEY = "applicant_id"
#: The hand-made entity whose history the leakage tests reason about.
SPOT = 1000
#: A hand-made entity with a backfilled value: dated early, written late.
BACKFILLED = 1001
CREATED = "created"
REDIS_URL = "redis://127.0.0.1:6379/0"
EMPLOYMENT = ["salaried", "self_employed", "unemployed", "retired"]


@dataclass(frozen=True)
class Project:
    """A scaffolded, applied decayguard project with its Feast repo."""

    folder: Path
    cfg: DecayguardConfig
    repo: FeatureRepo
    source: pd.DataFrame
    now: pd.Timestamp


def build_source(now: pd.Timestamp, *, seed: int = 7, entities: int = 200) -> pd.DataFrame:
    """Seeded feature history: 1-6 snapshots per entity over 300 days, some in the future."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 7, entities)
    ids = np.repeat(np.arange(1, entities + 1), counts)
    offsets = rng.uniform(-2.0, 300.0, len(ids))  # negative: dated after "now"
    times = now - pd.to_timedelta(offsets, unit="D")
    lags = pd.to_timedelta(rng.uniform(0, 3, len(ids)), unit="D")
    frame = pd.DataFrame(
        {
            KEY: ids.astype("int64"),
            "event_timestamp": times,
            CREATED: times + lags,
            "income": rng.lognormal(10.8, 0.5, len(ids)).round(2),
            "debt_ratio": rng.beta(2, 5, len(ids)).round(4),
            "age": rng.integers(21, 80, len(ids)).astype("float64"),
            "credit_lines": np.zeros(len(ids)),
            "utilization": rng.beta(2, 3, len(ids)).round(4),
            "employment": rng.choice(EMPLOYMENT, len(ids)),
        }
    )
    day = pd.Timedelta(days=1)
    spot_times = [now - 30 * day, now - 20 * day, now - 10 * day, now + day]
    backfill_times = [now - 30 * day, now - 25 * day]
    spot = pd.DataFrame(
        {
            KEY: [SPOT] * 4 + [BACKFILLED] * 2,
            "event_timestamp": spot_times + backfill_times,
            CREATED: [*spot_times, now - 30 * day, now - 5 * day],  # the 150 came in late
            "income": [100.0, 200.0, 300.0, 999.0, 100.0, 150.0],
            "debt_ratio": [0.1, 0.2, 0.3, 0.9, 0.1, 0.15],
            "age": [40.0, 40.0, 41.0, 41.0, 50.0, 50.0],
            "credit_lines": [0.0] * 6,
            "utilization": [0.1, 0.2, 0.3, 0.9, 0.1, 0.15],
            "employment": ["salaried", "salaried", "retired", "unemployed", "retired", "retired"],
        }
    )
    frame = pd.concat([frame, spot], ignore_index=True)
    frame["credit_lines"] = np.arange(len(frame), dtype="float64")  # the source row number
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    frame[CREATED] = pd.to_datetime(frame[CREATED], utc=True)
    return frame


def _write_config(folder: Path, features: dict[str, object]) -> DecayguardConfig:
    path = folder / "decayguard.yaml"
    data = yaml.safe_load(path.read_text())
    data["features"].update(features)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


def make_project(
    folder: Path, now: pd.Timestamp, features: dict[str, object], *, via_cli: bool
) -> Project:
    scaffold_project(folder)
    cfg = _write_config(folder, {"created_timestamp_column": CREATED, **features})
    # The scaffolded definitions follow decayguard.yaml; re-render them for the written column.
    (folder / "feature_repo" / "features.py").write_text(render_definitions(cfg))
    source = build_source(now)
    source.to_parquet(folder / "data" / "applicant_features.parquet", index=False)
    if via_cli:
        done = subprocess.run(
            [str(VENV_BIN / "decayguard"), "features", "apply", "--project", str(folder)],
            env=feast_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"Created feature service {SERVICE}" in done.stdout, done.stdout
        repo = FeatureRepo.from_config(cfg)
    else:
        repo = FeatureRepo.from_config(cfg)
        repo.apply()
    return Project(folder=folder, cfg=cfg, repo=repo, source=source, now=now)


@pytest.fixture(scope="session")
def session_now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC)).floor("s")


@pytest.fixture(scope="session")
def sqlite_project(tmp_path_factory: pytest.TempPathFactory, session_now: pd.Timestamp) -> Project:
    """The embedded default: file offline store, SQLite online store (applied via the CLI)."""
    folder = tmp_path_factory.mktemp("features") / "credit"
    return make_project(folder, session_now, {}, via_cli=True)


@pytest.fixture(scope="session")
def postgres_project(
    tmp_path_factory: pytest.TempPathFactory, session_now: pd.Timestamp, pg_database_url: str
) -> Iterator[Project]:
    """PostgreSQL online store in this session's own database (sslmode disable, loopback)."""
    folder = tmp_path_factory.mktemp("features_pg") / "credit"
    project = make_project(
        folder,
        session_now,
        {"online_store": "postgres", "online_store_url": pg_database_url},
        via_cli=False,
    )
    yield project
    project.repo.teardown()


@pytest.fixture(scope="session")
def redis_project(
    tmp_path_factory: pytest.TempPathFactory, session_now: pd.Timestamp
) -> Iterator[Project]:
    """Redis online store; keys carry this session's unique Feast project name."""
    folder = tmp_path_factory.mktemp("features_redis") / "credit"
    name = f"dgtest_{uuid.uuid4().hex[:10]}"
    project = make_project(
        folder,
        session_now,
        {"online_store": "redis", "online_store_url": REDIS_URL, "feast_project": name},
        via_cli=False,
    )
    yield project
    project.repo.teardown()
    client = redis.Redis.from_url(REDIS_URL)
    leftovers = [key for key in client.scan_iter(count=1000) if name.encode() in key]
    if leftovers:
        client.delete(*leftovers)
    client.close()


@pytest.fixture(scope="session")
def feature_server(sqlite_project: Project) -> Iterator[FeatureServer]:
    """`feast serve` over the SQLite project, on a free loopback port, materialized first."""
    sqlite_project.repo.materialize()
    with FeatureServer(sqlite_project.repo.path, port=0) as server:
        yield server


def labels_for(source: pd.DataFrame, now: pd.Timestamp, *, rows: int, seed: int) -> pd.DataFrame:
    """Seeded labels over the source's entities (some with no history yet at their time)."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(source[KEY].unique(), rows)
    times = now - pd.to_timedelta(rng.uniform(0, 320, rows), unit="D")
    return pd.DataFrame(
        {KEY: ids, "event_timestamp": times, "default": rng.choice(["0", "1"], rows)}
    )
