"""What only the MLflow adapter does: runs, datasets, the embedded default, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from decayguard.config import DecayguardConfig, ProjectConfig, RegistryConfig
from decayguard.errors import ServiceError
from decayguard.registry.interface import CHALLENGER_ALIAS, Exporter, RunRecord
from decayguard.registry.mlflow_registry import (
    DATASET_DIGEST_TAG,
    MAX_PARAM_VALUE_LENGTH,
    MlflowRegistry,
    registry_from_config,
)
from tests.registry.conftest import MODEL

REPO = Path(__file__).resolve().parents[2]


def test_importing_the_registry_does_not_import_mlflow() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); import decayguard.registry, "
        "decayguard.registry.mlflow_registry; "
        "assert 'mlflow' not in sys.modules, 'mlflow imported'; "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert out.returncode == 0, out.stderr


def test_run_datasets_and_statuses_are_recorded(
    mlflow_registry: MlflowRegistry,
    make_exporter: Callable[[], Exporter],
    run_record: Callable[[str], RunRecord],
) -> None:
    record = mlflow_registry.register(
        MODEL, make_exporter(), run_record("drift"), alias=CHALLENGER_ALIAS
    )
    client = mlflow_registry._client
    run = client.get_run(record.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "retrain-drift"
    assert run.data.tags["decayguard.trigger"] == "drift"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == f"decayguard-{MODEL}"
    assert record.source == f"{run.info.artifact_uri}/model"
    assert record.source.startswith(mlflow_registry.artifact_location or "?")

    inputs = {
        d.dataset.name: (d.dataset.digest, {t.key: t.value for t in d.tags})
        for d in run.inputs.dataset_inputs
    }
    assert set(inputs) == {"train", "holdout"}
    digest, tags = inputs["train"]
    assert digest == ("ab" * 32)[:36]
    assert tags["mlflow.data.context"] == "training"
    assert tags[DATASET_DIGEST_TAG] == "ab" * 32
    assert inputs["holdout"][1]["mlflow.data.context"] == "holdout"
    train = next(d.dataset for d in run.inputs.dataset_inputs if d.dataset.name == "train")
    assert json.loads(train.source) == {"uri": "/data/train.parquet"}
    assert json.loads(train.profile)["num_rows"] == 60

    def failing(version: str) -> Path:
        raise RuntimeError("no export")

    with pytest.raises(RuntimeError):
        mlflow_registry.register(MODEL, failing, run_record("manual"), alias=CHALLENGER_ALIAS)
    failed = mlflow_registry.get(MODEL, "2")
    assert client.get_run(failed.run_id).info.status == "FAILED"
    assert client.list_artifacts(failed.run_id) == []


def test_long_params_are_truncated_and_bad_aliases_name_the_store(
    mlflow_registry: MlflowRegistry,
    make_exporter: Callable[[], Exporter],
) -> None:
    run = RunRecord(run_name="long", params={"features": "x" * 10_000})
    record = mlflow_registry.register(MODEL, make_exporter(), run, alias=None)
    assert len(record.params["features"]) == MAX_PARAM_VALUE_LENGTH
    assert record.params["features"].endswith("...")
    with pytest.raises(ServiceError, match=r"MLflow at sqlite:///.*: cannot set alias"):
        mlflow_registry.set_alias(MODEL, "latest", "1")  # a name MLflow reserves


def test_embedded_default_keeps_everything_in_the_state_dir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_exporter: Callable[[], Exporter],
    run_record: Callable[[str], RunRecord],
) -> None:
    project = tmp_path / "project"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    cfg = DecayguardConfig(project=ProjectConfig(state_dir="state"), root=project)
    registry = registry_from_config(cfg)
    state = (project / "state" / "mlflow").resolve()
    assert registry.tracking_uri == registry.registry_uri == f"sqlite:///{state}/mlflow.db"
    started = time.perf_counter()
    cold = registry.register(MODEL, make_exporter(), run_record("drift"), alias=None)
    cold_s = time.perf_counter() - started
    started = time.perf_counter()
    registry.register(MODEL, make_exporter(), run_record("schedule"), alias=None)
    warm_s = time.perf_counter() - started
    print(f"register(): cold {cold_s:.2f} s (creates the tables), warm {warm_s:.2f} s")
    assert list(cwd.iterdir()) == []  # no ./mlruns, no mlflow.db
    assert (state / "mlflow.db").is_file()
    assert cold.source.startswith((state / "artifacts").as_uri())
    assert (state / "artifacts").is_dir()

    named = DecayguardConfig(
        project=ProjectConfig(state_dir="state"),
        registry=RegistryConfig(experiment="shared", artifact_root="other"),
        root=project,
    )
    other = registry_from_config(named)
    assert other.experiment == "shared"
    assert other.artifact_location == (project / "other").resolve().as_uri()
    served = registry_from_config(
        DecayguardConfig(registry=RegistryConfig(tracking_uri="http://127.0.0.1:1"))
    )
    assert (served.tracking_uri, served.registry_uri) == ("http://127.0.0.1:1",) * 2
    assert served.artifact_location is None


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np, pandas as pd
    from sklearn.linear_model import LogisticRegression
    from decayguard.registry import export_model
    from decayguard.registry.interface import RunRecord
    from decayguard.registry.mlflow_registry import MlflowRegistry

    db, artifacts, barrier, name, n = sys.argv[1:6]
    import mlflow  # the import (seconds) before the barrier: both register at once
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=40)})
    y = ["1" if v > 0 else "0" for v in X["a"]]
    registry = MlflowRegistry(f"sqlite:///{db}", artifact_location=Path(artifacts).as_uri())

    def export(version):
        folder = Path(barrier) / f"{name}-{version}"
        export_model(LogisticRegression().fit(X, y), folder, model_name="m",
                     model_version=version, reference=X)
        return folder

    (Path(barrier) / f"{name}.ready").touch()
    while len(list(Path(barrier).glob("*.ready"))) < 2:
        time.sleep(0.05)
    for i in range(int(n)):
        print(registry.register("m", export, RunRecord(run_name=f"{name}-{i}"),
                                alias="challenger").version, flush=True)
    """
)


@pytest.mark.slow
def test_two_processes_register_concurrently_on_one_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "mlflow.db"  # no tables yet: both race to create them too
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db), str(tmp_path / "art"), str(barrier), n, "2"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in ("p1", "p2")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    versions = [v for out, _ in outputs for v in out.split()]
    assert sorted(versions, key=int) == [str(i) for i in range(1, 5)]
    registry = MlflowRegistry(f"sqlite:///{db}")
    listed = registry.versions("m")
    assert [v.status for v in listed] == ["ready"] * 4
    assert sum(CHALLENGER_ALIAS in v.aliases for v in listed) == 1
