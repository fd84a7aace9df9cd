"""The monitor flow on a real Prefect server: served deployment, a run, the decay event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from decayguard.config import load_config
from decayguard.flows.stack import PrefectStack
from decayguard.monitoring.tasks import task_for
from decayguard.sim import LoanScenario
from decayguard.sim.training import train_model
from decayguard.store import (
    LabelRecord,
    PredictionRecord,
    create_store_engine,
    ingest_labels,
    insert_predictions,
    read_metric_points,
    record_deployment,
    upgrade,
)
from decayguard.watch import MonitoringBaseline, baseline_path

FEATURES = ["income", "debt_ratio", "age", "credit_lines", "utilization", "employment"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str) -> Path:
    """A project whose store holds four simulated weeks of a decaying champion."""
    root = tmp_path_factory.mktemp("project")
    (root / "decayguard.yaml").write_text(
        yaml.safe_dump(
            {
                "model": {"name": "credit-default"},
                "monitoring": {"performance_thresholds": {"accuracy": 0.8}},
                "orchestration": {"prefect_api_url": prefect_api_url, "schedule_monitor": False},
                # This project has no training function: its decay event only is under test.
                "training": {"on_decay": False},
            }
        )
    )
    cfg = load_config(root)
    engine = create_store_engine(cfg.resolved_store_url)
    upgrade(engine)
    sim = LoanScenario(seed=5, requests_per_day=300).simulate()
    history = sim.reference_frame()
    cut = int(len(history) * 0.7)
    model = train_model(history.iloc[:cut])
    holdout = history.iloc[cut:]
    task = task_for("binary", classes=("0", "1"), positive_class="1")
    MonitoringBaseline.fit(
        "credit-default",
        "1",
        task,
        history[FEATURES],
        holdout[FEATURES],
        task.outputs_from_scores(model.predict_proba(holdout[FEATURES])),
        holdout["default"].astype(str),
        numeric=FEATURES[:-1],
        categorical=["employment"],
    ).save(baseline_path(cfg.path(cfg.project.state_dir), "credit-default", "1"))
    record_deployment(engine, "credit-default", "1")
    live = sim.live_frame()
    scores = model.predict_proba(live[FEATURES])[:, 1]
    insert_predictions(
        engine,
        [
            PredictionRecord(
                id=r.request_id,
                ts=r.event_timestamp.to_pydatetime(),
                model_name="credit-default",
                model_version="1",
                arm="champion",
                inputs={f: getattr(r, f) for f in FEATURES},
                prediction=str(int(s >= 0.5)),
                score=float(s),
                inclusion_prob=0.05,
            )
            for r, s in zip(live.itertuples(index=False), scores, strict=True)
        ],
    )
    due = sim.labels_due(sim.scenario.deployment_time, sim.scenario.end)
    ingest_labels(
        engine,
        [
            LabelRecord("credit-default", r.value, prediction_id=r.prediction_id)
            for r in due.itertuples()
        ],
    )
    engine.dispose()
    (root / "sim_end.txt").write_text(sim.scenario.end.isoformat())
    return root


def _events(api: str, name: str, since: datetime) -> list[dict[str, object]]:
    """Events named ``name`` since ``since`` (the server's home persists across sessions)."""
    body = {"filter": {"event": {"name": [name]}, "occurred": {"since": since.isoformat()}}}
    response = httpx.post(f"{api}/events/filter", json=body, timeout=10)
    response.raise_for_status()
    return list(response.json()["events"])


def test_served_monitor_deployment_runs_and_emits_the_decay_event(
    project: Path, prefect_api_url: str
) -> None:
    cfg = load_config(project)
    started = datetime.now(UTC)
    stack = PrefectStack(cfg).up()
    try:
        env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
        now = (project / "sim_end.txt").read_text()
        code = (
            "import sys; from prefect.deployments import run_deployment;"
            "r = run_deployment('decayguard-monitor/monitor', "
            f"parameters={{'project_dir': {str(project)!r}, 'now': {now!r}}}, timeout=120);"
            "print(r.state.type.value)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
        )
        assert out.stdout.strip().endswith("COMPLETED"), out.stdout + out.stderr
        deadline = time.monotonic() + 30
        events: list[dict[str, object]] = []
        while time.monotonic() < deadline and not events:
            events = _events(prefect_api_url, "decayguard.decay.detected", started)
            time.sleep(0.5)
        assert events, "the decay event reached Prefect"
        assert len(events) == 1
        payload = events[0]["payload"]
        assert "realized" in payload["strategies"]  # type: ignore[index]
        assert "accuracy" in payload["reason"]  # type: ignore[index]
        engine = create_store_engine(cfg.resolved_store_url)
        points = read_metric_points(engine, "credit-default", strategy="realized")
        assert (points["metric"] == "decay.accuracy").any()
        engine.dispose()
    finally:
        stopped = stack.down()
    assert stopped == ["flow-runner"]
    assert not PrefectStack(cfg).running()


def test_monitor_once_runs_the_same_flow_from_the_cli(project: Path) -> None:
    now = (project / "sim_end.txt").read_text()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "decayguard",
            "monitor",
            "--once",
            "--now",
            now,
            "--json",
            "--project",
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["decayed"] is True
    assert result["verdicts"]["realized"]["decayed"] is True
    assert "upper 95% bound" in result["verdicts"]["realized"]["reason"]
    assert result["n_predictions"] > 100


def test_monitor_once_without_a_deployed_champion_says_so(tmp_path: Path) -> None:
    (tmp_path / "decayguard.yaml").write_text("model:\n  name: nothing-deployed\n")
    subprocess.run(
        [sys.executable, "-m", "decayguard", "store", "upgrade", "--project", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, "-m", "decayguard", "monitor", "--once", "--project", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert "no active champion deployment of 'nothing-deployed'" in out.stderr
    assert "Traceback" not in out.stderr


def test_up_and_down_from_the_cli(project: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "decayguard", *args, "--project", str(project)],
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )

    up = cli("up")
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        running = PrefectStack(load_config(project)).running()
        assert set(running) == {"flow-runner"}  # the project points at an external server
        again = cli("up")
        assert again.returncode == 2
        assert "already up" in again.stderr
    finally:
        down = cli("down")
    assert down.returncode == 0
    assert "flow-runner" in down.stdout
    assert not PrefectStack(load_config(project)).running()
