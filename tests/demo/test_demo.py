"""`decayguard demo --fast` end to end: the real CLI, MLServer, Prefect, Feast and the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_the_fast_demo_detects_each_onset_with_the_strategy_that_can_see_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "result.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "decayguard",
            "demo",
            "--fast",
            "--folder",
            str(tmp_path / "demo"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["request_failures"] == 0
    assert result["requests_sent"] > 3000
    assert result["monitor_runs"] == 21
    covariate, concept = result["onsets"]
    assert covariate["kind"] == "covariate"
    assert concept["kind"] == "concept"
    # Drift shows in the inputs within days; decay needs labels (or reviews) to mature.
    assert covariate["detected"]["proxy"]["delay_days"] <= 3
    assert concept["detected"]["realized"]["delay_days"] <= 7
    assert result["false_alarms"] == []
    titles = result["alerts_sent"]
    assert any("feature_drift" in t for t in titles)
    assert any("decay.realized" in t for t in titles)
    assert "Onsets in the simulation" in run.stdout
    # Every component was stopped: nothing listens on the demo's ports any more.
    config = (tmp_path / "demo" / "decayguard.yaml").read_text()
    assert "trust_event_time: true" in config
    assert not (tmp_path / "demo" / ".decayguard" / "up.json").exists()
