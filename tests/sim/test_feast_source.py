"""The simulator's features live in a real Feast repo: ``feast apply``, then a point-in-time
training set returns exactly the simulated feature values."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from decayguard.errors import InputValidationError
from decayguard.sim import (
    FEATURE_HISTORY_FILE,
    FEATURE_HISTORY_SCHEMA,
    FEATURE_NAMES,
    Simulation,
    write_feature_history,
)

_DEFINITIONS = """
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, String

applicant = Entity(name="applicant", join_keys=["applicant_id"], value_type=ValueType.INT64)
source = FileSource(
    name="applicant_features_source",
    path="{path}",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)
applicant_features = FeatureView(
    name="applicant_features",
    entities=[applicant],
    ttl=timedelta(days=365),
    schema=[
        Field(name="income", dtype=Float64),
        Field(name="debt_ratio", dtype=Float64),
        Field(name="age", dtype=Float64),
        Field(name="credit_lines", dtype=Float64),
        Field(name="utilization", dtype=Float64),
        Field(name="employment", dtype=String),
    ],
    source=source,
    online=True,
)
credit_default_v1 = FeatureService(name="credit_default_v1", features=[applicant_features])
"""

_STORE_YAML = """
project: decayguard_sim_test
registry: data/registry.db
provider: local
online_store:
  type: sqlite
  path: data/online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def test_feature_history_file_has_the_documented_schema(
    simulation: Simulation, tmp_path: Path
) -> None:
    path = write_feature_history(simulation.feature_history(), tmp_path / FEATURE_HISTORY_FILE)
    assert path == tmp_path / "data" / "applicant_features.parquet"
    table = pq.read_table(path)
    assert table.schema.equals(FEATURE_HISTORY_SCHEMA)
    assert table.num_rows == len(simulation.frame)
    assert not list(path.parent.glob(".*partial"))
    cutoff = simulation.scenario.deployment_time
    assert len(simulation.feature_history(until=cutoff)) == len(simulation.reference_frame())


def test_feature_history_names_a_missing_column(simulation: Simulation, tmp_path: Path) -> None:
    with pytest.raises(InputValidationError) as error:
        write_feature_history(
            simulation.feature_history().drop(columns="created"), tmp_path / "x.parquet"
        )
    assert error.value.field == "created"


# Runs in a child process: what `feast apply` runs (apply_total chdirs into the repo), then a
# point-in-time join of the entity rows in entities.parquet, written to training.parquet. One
# process imports Feast once (~15 s on a busy machine; the CLI and then the test would pay twice).
_APPLY_AND_JOIN = """
import sys
from pathlib import Path
import pandas as pd
from feast import FeatureStore
from feast.repo_config import load_repo_config
from feast.repo_operations import apply_total

repo = Path(sys.argv[1])
apply_total(load_repo_config(repo, repo / "feature_store.yaml"), repo, skip_source_validation=False)
store = FeatureStore(repo_path=str(repo))
service = store.get_feature_service("credit_default_v1")
for name in ("at_label_time", "before_application"):
    entities = pd.read_parquet(repo / f"{name}.parquet")
    frame = store.get_historical_features(entity_df=entities, features=service).to_df()
    frame.to_parquet(repo / f"{name}.out.parquet")
"""


@pytest.mark.slow
def test_feast_point_in_time_join_returns_the_simulated_features(
    simulation: Simulation, tmp_path: Path
) -> None:
    repo = tmp_path / "feature_repo"
    (repo / "data").mkdir(parents=True)
    source = write_feature_history(simulation.feature_history(), tmp_path / FEATURE_HISTORY_FILE)
    (repo / "feature_store.yaml").write_text(_STORE_YAML)
    (repo / "features.py").write_text(textwrap.dedent(_DEFINITIONS.format(path=source)))
    (repo / ".feastignore").write_text("*.parquet\n")
    live = simulation.live_frame().sample(300, random_state=0)
    entities = live[["applicant_id", "event_timestamp"]]
    # When the label arrives, three days later, the application's features are found...
    entities.assign(event_timestamp=entities["event_timestamp"] + pd.Timedelta(days=3)).to_parquet(
        repo / "at_label_time.parquet"
    )
    # ...but a second before the application there is no feature row yet.
    entities.assign(event_timestamp=entities["event_timestamp"] - pd.Timedelta("1s")).to_parquet(
        repo / "before_application.parquet"
    )
    env = {**os.environ, "FEAST_USAGE": "False", "DO_NOT_TRACK": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _APPLY_AND_JOIN, str(repo)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    training = (
        pd.read_parquet(repo / "at_label_time.out.parquet")
        .sort_values("applicant_id")
        .reset_index(drop=True)
    )
    expected = live.sort_values("applicant_id").reset_index(drop=True)
    assert training["applicant_id"].tolist() == expected["applicant_id"].tolist()
    pd.testing.assert_frame_equal(
        training[list(FEATURE_NAMES)], expected[list(FEATURE_NAMES)], check_dtype=False
    )
    early = pd.read_parquet(repo / "before_application.out.parquet")
    # Feast's file offline store drops entity rows that have no feature row in time.
    assert early.empty or early["income"].isna().all()
