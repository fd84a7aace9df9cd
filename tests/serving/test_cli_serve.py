"""``decayguard serve``: start, status, deploy (hot swap), stop, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import yaml
from typer.testing import CliRunner

from decayguard.cli import app
from decayguard.store import create_store_engine, upgrade

from .conftest import Artifacts
from .helpers import ROOT, applicants, free_port, request_body, wait_stored

runner = CliRunner()


def _state(pid: int) -> str:
    """The process state letter (``Z``: a zombie, exited but not yet reaped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def serve(*args: str, project: Path) -> str:
    result = runner.invoke(app, ["serve", *args, "--project", str(project)])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_serve_starts_swaps_and_stops_cleanly(tmp_path: Path, artifacts: Artifacts) -> None:
    port = free_port()
    config = {
        "project": {"name": "cli-serve"},
        "model": {"name": "credit-default"},
        "serving": {
            "http_port": port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "log_flush_seconds": 600,  # rows reach the store only through the SIGTERM flush
        },
    }
    (tmp_path / "decayguard.yaml").write_text(yaml.safe_dump(config))
    store_url = f"sqlite:///{tmp_path}/.decayguard/store.db"
    upgrade(create_store_engine(store_url))

    # The real console script: a user error is one clear line and exit code 2.
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    missing = subprocess.run(
        [str(ROOT / ".venv/bin/decayguard"), "serve", "--project", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "no model deployed" in missing.stderr
    assert "Traceback" not in missing.stderr

    # A version with no baseline and no lineage: the monitor would have nothing to judge it
    # by, so the deploy asks for a holdout (features and the label) and changes nothing.
    refused = runner.invoke(app, ["serve", "deploy", str(artifacts.v1), "--project", str(tmp_path)])
    assert refused.exit_code != 0
    assert "holdout" in str(refused.exception)
    holdout = tmp_path / "holdout.parquet"
    frame, label = applicants(400, seed=5)
    frame.assign(label=label.astype(str)).to_parquet(holdout)  # model.target: label
    deployed = serve("deploy", str(artifacts.v1), "--holdout", str(holdout), project=tmp_path)
    assert "written" in deployed
    serve(project=tmp_path)
    pid_file = tmp_path / ".decayguard" / "mlserver.pid"
    pid = int(pid_file.read_text())
    try:
        status = serve("status", project=tmp_path)
        assert "ready" in status
        assert "bytes in" in status  # the prediction log's backlog
        again = runner.invoke(app, ["serve", "--project", str(tmp_path)])
        assert "already running" in str(again.exception)
        url = f"http://127.0.0.1:{port}/v2/models/credit-default/infer"
        first = httpx.post(url, json=request_body(artifacts.frame.iloc[0], "cli-1"))
        assert first.json()["parameters"]["model_version"] == "1"

        swapped = serve("deploy", str(artifacts.v2), "--holdout", str(holdout), project=tmp_path)
        assert "loaded into the running server" in swapped
        second = httpx.post(url, json=request_body(artifacts.frame.iloc[0], "cli-2"))
        assert second.json()["parameters"]["model_version"] == "2"
    finally:
        stopped = serve("--stop", project=tmp_path)
    assert "stopped" in stopped
    assert not pid_file.exists()
    assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), "MLServer still runs"
    rows = wait_stored(store_url, ["cli-1", "cli-2"], timeout=1)
    assert {r["model_version"] for r in rows.values()} == {"1", "2"}
    assert "not running" in serve("status", project=tmp_path)
    # Both deploys are in the release history, each version with its own baseline.
    history = runner.invoke(app, ["release", "history", "--json", "--project", str(tmp_path)])
    assert history.exit_code == 0, history.output
    entered = [(t["version"], t["to_stage"]) for t in json.loads(history.output)]
    assert entered[-2:] == [("1", "superseded"), ("2", "champion")]
    assert (tmp_path / ".decayguard" / "baselines" / "credit-default" / "2.json").exists()
