"""The feature store's pure parts, without Feast: hashing, windows, config, joins, HTTP client."""

from __future__ import annotations

import doctest
import importlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

import decayguard.features as features_pkg
from decayguard.config import DecayguardConfig, FeaturesConfig
from decayguard.errors import ConfigError, InputValidationError, ServiceError
from decayguard.features import (
    AllHistory,
    LastNDays,
    OnlineFeatureClient,
    RecencyWeighted,
    TrainingSetLineage,
    compare_lineage,
    frame_sha256,
    point_in_time_join,
    window_from_config,
)
from decayguard.features.joins import attach_features, validate_labels
from decayguard.features.online import AsyncOnlineFeatureClient, parse_online_response
from decayguard.features.scaffold import render_definitions, write_feature_repo
from decayguard.features.store_yaml import feature_store_settings
from decayguard.features.windows import window_from_description
from decayguard.scaffold import CONFIG_TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
T = pd.Timestamp("2026-06-01", tz="UTC")
DAY = pd.Timedelta(days=1)


def demo_config() -> DecayguardConfig:
    return DecayguardConfig(**yaml.safe_load(CONFIG_TEMPLATE.format(name="demo")))


# -- frame hash -------------------------------------------------------------------------------


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "applicant_id": np.array([3, 1, 2], dtype="int64"),
            "event_timestamp": pd.to_datetime(["2026-01-03", "2026-01-01", "2026-01-02"], utc=True),
            "income": [3.5, np.nan, -0.0],
            "employment": ["retired", None, "salaried"],
            "default": ["1", "0", "0"],
        }
    )


def test_frame_hash_ignores_row_and_column_order_and_index() -> None:
    frame = sample_frame()
    shuffled = frame.sample(frac=1.0, random_state=1)[list(reversed(frame.columns))]
    assert frame_sha256(shuffled) == frame_sha256(frame)
    assert frame_sha256(frame.set_index(pd.Index([10, 20, 30]))) == frame_sha256(frame)


def test_frame_hash_is_stable_across_equivalent_dtypes() -> None:
    frame = sample_frame()
    other = frame.astype({"applicant_id": "int32", "employment": "category"})
    other["event_timestamp"] = frame["event_timestamp"].dt.tz_convert("Europe/Paris")
    other["event_timestamp"] = other["event_timestamp"].astype("datetime64[us, Europe/Paris]")
    other["income"] = [3.5, np.nan, 0.0]  # -0.0 and 0.0 are the same value
    assert frame_sha256(other) == frame_sha256(frame)


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(income=[3.5, 1.0, 0.0]),  # a null becomes a value
        lambda f: f.assign(employment=["retired", "None", "salaried"]),  # null vs the text "None"
        lambda f: f.assign(event_timestamp=f["event_timestamp"] + pd.Timedelta(1, "ns")),
        lambda f: f.rename(columns={"default": "label"}),
        lambda f: f.iloc[:2],
        lambda f: pd.concat([f, f.iloc[:1]]),  # a duplicated row counts
        lambda f: f.assign(default=[1, 0, 0]),  # numbers are not the same as text
    ],
)
def test_frame_hash_changes_with_any_content_change(change: object) -> None:
    frame = sample_frame()
    assert callable(change)
    assert frame_sha256(change(frame)) != frame_sha256(frame)


def test_frame_hash_of_empty_frames_differs_by_columns() -> None:
    assert frame_sha256(pd.DataFrame({"a": []})) != frame_sha256(pd.DataFrame({"b": []}))


# -- windows ----------------------------------------------------------------------------------


def labels_at(*days_before_end: float) -> pd.DataFrame:
    times = [T - pd.Timedelta(days=d) for d in days_before_end]
    return pd.DataFrame({"applicant_id": range(len(times)), "event_timestamp": times})


def test_windows_select_and_weigh_labels() -> None:
    labels = labels_at(100, 30, 10, 0, -1)  # the last one is after the as-of time
    end = T.to_pydatetime()
    assert len(AllHistory().select(labels, end=end).labels) == 4
    last = LastNDays(30).select(labels, end=end)
    assert last.labels["applicant_id"].tolist() == [1, 2, 3]  # 30 days ago is inside
    assert last.start == end - timedelta(days=30)
    weighted = RecencyWeighted(half_life_days=10, days=50).select(labels, end=end).labels
    assert weighted["applicant_id"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(weighted["sample_weight"], [0.125, 0.5, 1.0])


def test_windows_come_from_config_and_round_trip_through_lineage() -> None:
    assert isinstance(window_from_config(FeaturesConfig()), AllHistory)
    window = window_from_config(
        FeaturesConfig(
            training_window="recency_weighted", half_life_days=7, training_window_days=90
        )
    )
    assert isinstance(window, RecencyWeighted)
    rebuilt = window_from_description(window.describe())
    assert (
        rebuilt.describe()
        == window.describe()
        == {
            "kind": "recency_weighted",
            "half_life_days": 7,
            "days": 90,
        }
    )
    with pytest.raises(ConfigError, match=r"features\.training_window_days"):
        window_from_config(FeaturesConfig(training_window="last_n_days"))
    with pytest.raises(ValueError, match="unknown window kind"):
        window_from_description({"kind": "fortnight"})


# -- feature_store.yaml -----------------------------------------------------------------------


def test_postgres_online_store_disables_ssl_on_loopback_by_default() -> None:
    settings = feature_store_settings(
        FeaturesConfig(
            online_store="postgres",
            online_store_url="postgresql+psycopg://feast:s%40cret@127.0.0.1:5433/online?schema=fs",
        ),
        "Credit Risk!",
    )
    assert settings["project"] == "Credit_Risk"
    assert settings["offline_store"] == {"type": "file"}
    assert settings["online_store"] == {
        "type": "postgres",
        "host": "127.0.0.1",
        "port": 5433,
        "database": "online",
        "db_schema": "fs",
        "user": "feast",
        "password": "s@cret",
        "sslmode": "disable",
    }
    explicit = FeaturesConfig(
        online_store="postgres", online_store_url="postgresql://u@db.internal/x?sslmode=require"
    )
    assert feature_store_settings(explicit, "p")["online_store"]["sslmode"] == "require"


def test_redis_and_sqlite_online_stores() -> None:
    redis_cfg = FeaturesConfig(online_store="redis", online_store_url="redis://:pw@10.0.0.5:6380/3")
    assert feature_store_settings(redis_cfg, "p")["online_store"] == {
        "type": "redis",
        "connection_string": "10.0.0.5:6380,db=3,password=pw",
    }
    assert feature_store_settings(FeaturesConfig(), "p")["online_store"] == {
        "type": "sqlite",
        "path": "data/online_store.db",
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"online_store": "postgres"}, "features.online_store_url: required"),
        ({"online_store": "redis", "online_store_url": "http://x"}, "features.online_store_url"),
        ({"online_store": "redis", "online_store_url": "redis://h/zero"}, "is not a number"),
        (
            {"online_store": "postgres", "online_store_url": "postgresql://u:secret@h/db?x=1"},
            "unsupported PostgreSQL parameter",
        ),
        (
            {"online_store": "postgres", "online_store_url": "postgresql://u:secret@h"},
            "no database",
        ),
        ({"feast_project": "_bad-name"}, "features.feast_project"),
    ],
)
def test_bad_feature_store_settings_name_the_key(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        feature_store_settings(FeaturesConfig(**settings), "p")  # type: ignore[arg-type]
    assert "secret" not in str(caught.value)


# -- scaffold ---------------------------------------------------------------------------------


def test_scaffolded_definitions_follow_the_model_schema(tmp_path: Path) -> None:
    cfg = demo_config()
    source = render_definitions(cfg)
    compile(source, "features.py", "exec")
    assert 'join_keys=["applicant_id"]' in source
    assert 'name="applicant_features"' in source
    assert 'name="credit_default_v1"' in source
    assert 'path="../data/applicant_features.parquet"' in source
    assert 'Field(name="employment", dtype=String)' in source
    written = write_feature_repo(tmp_path, cfg)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        "feature_repo/feature_store.yaml",
        "feature_repo/features.py",
        "feature_repo/.feastignore",
        "data/applicant_features.parquet",
    }
    example = pd.read_parquet(tmp_path / "data" / "applicant_features.parquet")
    assert list(example.columns) == [
        "applicant_id",
        "event_timestamp",
        *[spec.name for spec in cfg.model.features],
    ]
    assert set(example["employment"]) <= {"salaried", "self_employed", "unemployed", "retired"}
    with pytest.raises(ConfigError, match="already exists"):
        write_feature_repo(tmp_path, cfg)
    # --force rewrites definitions but never the data a user may have replaced.
    again = write_feature_repo(tmp_path, cfg, force=True)
    assert tmp_path / "data" / "applicant_features.parquet" not in again


def test_scaffold_refuses_a_config_without_entity_key() -> None:
    cfg = demo_config()
    cfg.model.entity_key = None
    with pytest.raises(ConfigError, match=r"model\.entity_key"):
        render_definitions(cfg)


# -- the join around Feast, with the pandas reference as the twin -----------------------------


def test_every_label_survives_the_join_even_duplicates_and_too_early_ones() -> None:
    source = pd.DataFrame(
        {
            "applicant_id": [1, 1, 2],
            "event_timestamp": [T - 10 * DAY, T, T - 5 * DAY],
            "income": [10.0, 20.0, 30.0],
        }
    )
    labels = validate_labels(
        pd.DataFrame(
            {
                "applicant_id": [1, 1, 1, 2, 2],
                "when": [T - DAY, T - DAY, T, T - 6 * DAY, T - 5 * DAY],
                "default": ["0", "1", "1", "0", "1"],
            }
        ),
        keys=["applicant_id"],
        time_column="when",
        feature_names=["income"],
        integer_keys=["applicant_id"],
    )

    def lossy_twin(pairs: pd.DataFrame) -> pd.DataFrame:
        # Behaves like Feast's file store: rows with no value yet are dropped.
        joined = point_in_time_join(
            pairs, source, keys=["applicant_id"], feature_names=["income"], ttl=None
        )
        return joined.dropna(subset=["income"])

    frame = attach_features(labels, lossy_twin, keys=["applicant_id"], feature_names=["income"])
    assert frame["default"].tolist() == ["0", "1", "1", "0", "1"]
    assert frame["income"].tolist()[:3] == [10.0, 10.0, 20.0]
    assert np.isnan(frame["income"].iloc[3])
    assert frame["income"].iloc[4] == 30.0


def test_reference_join_respects_ttl() -> None:
    source = pd.DataFrame({"k": [1], "event_timestamp": [T - 10 * DAY], "x": [1.0]})
    pairs = pd.DataFrame({"k": [1, 1], "event_timestamp": [T - 5 * DAY, T + 5 * DAY]})
    joined = point_in_time_join(pairs, source, keys=["k"], feature_names=["x"], ttl=timedelta(11))
    assert joined["x"].iloc[0] == 1.0
    assert np.isnan(joined["x"].iloc[1])


def test_label_keys_must_be_integers() -> None:
    with pytest.raises(InputValidationError) as caught:
        validate_labels(
            pd.DataFrame({"k": [1.5], "event_timestamp": [T]}),
            keys=["k"],
            time_column="event_timestamp",
            feature_names=[],
            integer_keys=["k"],
        )
    assert caught.value.field == "k"


# -- lineage records --------------------------------------------------------------------------


def lineage(**changes: object) -> TrainingSetLineage:
    base = {
        "frame_sha256": "a" * 64,
        "rows": 10,
        "columns": ["applicant_id", "event_timestamp", "default", "income"],
        "feast_project": "p",
        "feature_service": "credit_default_v1",
        "feature_service_version": "0123456789abcdef",
        "feature_view_versions": {"applicant_features": 0},
        "features": ["applicant_features:income"],
        "window": {"kind": "all"},
        "window_start": None,
        "window_end": "2026-06-01T00:00:00+00:00",
        "min_event_timestamp": "2026-01-01T00:00:00+00:00",
        "max_event_timestamp": "2026-05-01T00:00:00+00:00",
        "rows_without_features": 1,
        "labels_sha256": "b" * 64,
        "sources": {"../data/applicant_features.parquet": "c" * 64},
        "saved_dataset": "x",
        "saved_dataset_path": "data/training_sets/x.parquet",
        "created_at": "2026-06-01T00:00:01+00:00",
        "feast_version": "0.67.0",
    }
    base.update(changes)
    return TrainingSetLineage(**base)  # type: ignore[arg-type]


def test_lineage_is_json_and_comparisons_ignore_bookkeeping() -> None:
    a = lineage()
    assert TrainingSetLineage.from_dict(json.loads(a.to_json())) == a
    b = lineage(created_at="2027-01-01T00:00:00+00:00", saved_dataset="y")
    same = compare_lineage(a, b)
    assert same.same_data
    assert same.same_features
    assert same.differences == {}
    c = lineage(
        frame_sha256="d" * 64,
        rows=12,
        feature_service_version="fedcba9876543210",
        min_event_timestamp="2026-06-01T00:00:00+00:00",
        max_event_timestamp="2026-07-01T00:00:00+00:00",
    )
    other = compare_lineage(a, c)
    assert not other.same_data
    assert not other.same_features
    assert other.row_delta == 2
    assert other.overlap is None
    assert set(other.differences) == {
        "frame_sha256",
        "rows",
        "feature_service_version",
        "min_event_timestamp",
        "max_event_timestamp",
    }
    with pytest.raises(ValueError, match="unknown lineage field"):
        TrainingSetLineage.from_dict({**a.to_dict(), "surprise": 1})


# -- the HTTP client, against an in-memory twin of feast serve --------------------------------


def feast_serve_twin(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    if body["feature_service"] != "credit_default_v1":
        message = {"class": "FeatureServiceNotFoundException", "message": "no such service"}
        return httpx.Response(404, json=json.dumps(message))
    ids = body["entities"].get("applicant_id")
    if ids is None:
        return httpx.Response(500, json="Missing join key values for keys: ['applicant_id']")
    found = [i == 1 for i in ids]
    return httpx.Response(
        200,
        json={
            "metadata": {"feature_names": ["applicant_id", "income"]},
            "results": [
                {"values": ids, "statuses": ["PRESENT"] * len(ids)},
                {
                    "values": [50.0 if f else 0.0 for f in found],
                    "statuses": ["PRESENT" if f else "NOT_FOUND" for f in found],
                },
            ],
        },
    )


def test_online_client_maps_answers_and_errors() -> None:
    client = OnlineFeatureClient("http://feast", transport=httpx.MockTransport(feast_serve_twin))
    assert client.get("credit_default_v1", {"applicant_id": [1, 2]}) == {
        "applicant_id": [1, 2],
        "income": [50.0, None],
    }
    with pytest.raises(InputValidationError) as service:
        client.get("other", {"applicant_id": [1]})
    assert service.value.field == "feature_service"
    with pytest.raises(InputValidationError) as key:
        client.get("credit_default_v1", {"applicant": [1]})
    assert key.value.field == "entities"
    with pytest.raises(InputValidationError):
        client.get("credit_default_v1", {"applicant_id": [1], "other": [1, 2]})
    client.close()


async def _async_lookup() -> dict[str, list[object]]:
    client = AsyncOnlineFeatureClient(
        "http://feast", transport=httpx.MockTransport(feast_serve_twin)
    )
    try:
        return await client.get("credit_default_v1", {"applicant_id": [1]})
    finally:
        await client.aclose()


def test_async_online_client() -> None:
    import asyncio

    assert asyncio.run(_async_lookup()) == {"applicant_id": [1], "income": [50.0]}


def test_unexpected_answer_shape_is_a_service_error() -> None:
    with pytest.raises(ServiceError, match="unexpected shape"):
        parse_online_response({"results": []})


# -- packaging --------------------------------------------------------------------------------


def test_public_api_is_sorted_and_complete() -> None:
    exported = features_pkg.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(features_pkg, name)


@pytest.mark.parametrize(
    "name",
    [
        "decayguard.features.lineage",
        "decayguard.features.windows",
        "decayguard.features.store_yaml",
    ],
)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_the_serving_environment_imports_the_package_without_feast() -> None:
    serving_python = ROOT / ".venv-serve" / "bin" / "python"
    code = (
        "import sys, decayguard.features, decayguard.features.online; "
        "bad = [m for m in ('feast', 'prefect', 'mlflow', 'fastapi') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    for python in (sys.executable, str(serving_python)):
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_when_feast_is_missing_the_error_says_which_environment(tmp_path: Path) -> None:
    serving_python = ROOT / ".venv-serve" / "bin" / "python"
    (tmp_path / "feature_store.yaml").write_text("project: p\n")
    code = (
        "from decayguard.features import FeatureRepo\n"
        "from decayguard.errors import ServiceError\n"
        f"try:\n    FeatureRepo({str(tmp_path)!r}).store\n"
        "except ServiceError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [str(serving_python), "-c", code], capture_output=True, text=True, check=True
    )
    assert "control environment" in done.stdout


def test_lineage_timestamps_are_utc_iso() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert lineage(window_end=moment.isoformat()).window_end.endswith("+00:00")


def test_a_missing_repo_or_feature_store_yaml_is_a_config_error(tmp_path: Path) -> None:
    from decayguard.features import FeatureRepo

    cfg = DecayguardConfig(root=tmp_path)
    with pytest.raises(ConfigError, match=r"features\.repo_path"):
        FeatureRepo.from_config(cfg)
    with pytest.raises(ConfigError, match=r"feature_store\.yaml: missing"):
        _ = FeatureRepo(tmp_path).store
