"""`decayguard demo --fast --task T` end to end: the real CLI, MLServer, Prefect, Feast, the API.

One demo per model task. The demos selected for a session start together (each in its own
folder, with its own servers) and the tests read their results: on two cores the three
overlap well (much of a demo's time is spent waiting on servers), so they cost far less
wall time than one after another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

TASKS = ("binary", "multiclass", "regression")
TIMEOUT_SECONDS = 1500


@dataclass
class DemoRun:
    folder: Path
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any]

    @property
    def output_tail(self) -> str:
        return self.stdout[-3000:] + self.stderr[-3000:]


def _selected_tasks(session: pytest.Session) -> list[str]:
    tasks = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is not None and item.module.__name__ == __name__ and callspec:
            task = callspec.params.get("task")
            if task in TASKS and task not in tasks:
                tasks.append(task)
    return tasks


@pytest.fixture(scope="module")
def demo_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, DemoRun]]:
    """Start the demo of every selected task at once; wait for all of them."""
    root = tmp_path_factory.mktemp("demos")
    started: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    for task in _selected_tasks(request.session):
        folder = root / task
        folder.mkdir()
        started[task] = (
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "decayguard",
                    "demo",
                    "--fast",
                    "--task",
                    task,
                    "--folder",
                    str(folder / "demo"),
                    "--json",
                    str(folder / "result.json"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "COLUMNS": "160"},
                start_new_session=True,
            ),
            folder,
        )
    runs: dict[str, DemoRun] = {}
    try:
        for task, (process, folder) in started.items():
            stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
            out = folder / "result.json"
            result = json.loads(out.read_text()) if out.exists() else {}
            runs[task] = DemoRun(folder / "demo", process.returncode, stdout, stderr, result)
        yield runs
    finally:
        for process, _ in started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.mark.parametrize("task", TASKS)
def test_the_fast_demo_detects_each_onset_with_the_strategy_that_can_see_it(
    demo_runs: dict[str, DemoRun], task: str
) -> None:
    run = demo_runs[task]
    assert run.returncode == 0, run.output_tail
    result = run.result
    assert result["task"] == task
    assert result["request_failures"] == 0
    assert result["requests_sent"] > 3000
    assert result["monitor_runs"] == 21  # one a simulated day, days 7-28
    covariate, concept = result["onsets"]
    assert covariate["kind"] == "covariate"
    assert concept["kind"] == "concept"
    # Drift shows in the inputs within days; decay needs labels (or reviews) to mature.
    assert covariate["detected"]["proxy"]["delay_days"] <= 3, result
    assert concept["detected"]["realized"]["delay_days"] <= 7, result
    assert result["false_alarms"] == [], result
    titles = result["alerts_sent"]
    assert any("feature_drift" in t for t in titles)
    assert any("decay.realized" in t for t in titles)
    assert "Onsets in the simulation" in run.stdout
    config = (run.folder / "decayguard.yaml").read_text()
    assert f"task: {task}" in config
    assert "trust_event_time: true" in config
    _assert_the_loop_fixed_the_concept_shift(run)
    # Every component was stopped: nothing listens on the demo's ports any more.
    assert not (run.folder / ".decayguard" / "up.json").exists()


def _assert_the_loop_fixed_the_concept_shift(run: DemoRun) -> None:
    """Each step of the fix half, from the run's JSON and its project's store."""
    from decayguard.store import create_store_engine
    from decayguard.store.gate_reports import latest_gate_report
    from decayguard.store.releases import release_history
    from decayguard.store.training_runs import training_history

    recovery = run.result["recovery"]
    assert recovery is not None, run.output_tail
    store = create_store_engine(f"sqlite:///{run.folder / '.decayguard' / 'store.db'}")
    try:
        from decayguard.sim.demo_tasks import DEMO_TASKS

        model = DEMO_TASKS[run.result["task"]].model_name
        history = release_history(store, model)
        trainings = training_history(store, model)
        promoted = recovery["promoted_version"]
        # 1. the decay event retrained, once enough post-shift labels had matured
        decay_runs = [r for r in trainings if r["trigger"] == "decay"]
        assert any(r["status"] == "registered" for r in decay_runs), trainings
        assert recovery["retrains"] >= 2, recovery
        # 2. the challenger passed the gate, shadowed, went to canary, was promoted by the judge
        assert promoted is not None, (recovery, history)
        gate = latest_gate_report(store, model, promoted)
        assert gate is not None
        assert gate["passed"], gate
        stages = [(t["to_stage"], t["actor"]) for t in history if t["version"] == promoted]
        assert [s for s, _ in stages] == [
            "registered", "validated", "shadow", "canary", "champion"
        ], stages  # fmt: skip
        assert stages[-1][1] == "decayguard"
        # 3. the person's bad challenger was rejected by the gate or rolled back by the judge
        assert recovery["rejected_versions"], (recovery, history)
        bad = recovery["rejected_versions"][0]
        assert bad != promoted
        assert [t["to_stage"] for t in history if t["version"] == bad][-1] in (
            "rejected",
            "rolled_back",
        )
    finally:
        store.dispose()
    # 4. realized performance recovered, and beats the world where nothing is retrained
    before, worst = recovery["metric_before"], recovery["metric_worst"]
    after, never = recovery["metric_after"], recovery["metric_never_retrain"]
    sign = -1.0 if recovery["metric"] == "mae" else 1.0  # higher is better, or lower
    assert sign * worst < sign * before, recovery
    assert sign * after > sign * worst, recovery
    assert sign * after > sign * never, recovery
    assert "The concept shift, fixed" in run.stdout
