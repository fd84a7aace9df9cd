"""`decayguard features ...` as a user runs it: real processes, real Feast repo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from decayguard.cli import app
from decayguard.features._feast import feast_env
from decayguard.processes import free_port

from .conftest import KEY, SPOT, VENV_BIN, Project, labels_for


def decayguard(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "decayguard"), *args],
        env=feast_env({"COLUMNS": "200"}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_in_process(*args: str) -> str:
    """A happy-path command in this process (Feast is already imported here)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_training_set_compare_materialize_and_online_commands(
    sqlite_project: Project, tmp_path: Path
) -> None:
    labels = labels_for(sqlite_project.source, sqlite_project.now, rows=200, seed=5)
    labels_file = tmp_path / "labels.csv"
    labels.to_csv(labels_file, index=False)
    folder = str(sqlite_project.folder)
    made = run_in_process(
        "features", "training-set", str(labels_file), "--out", str(tmp_path / "a.parquet"),
        "--project", folder, "--end", sqlite_project.now.isoformat(),
    )  # fmt: skip
    frame = pd.read_parquet(tmp_path / "a.parquet")
    lineage = json.loads((tmp_path / "a.lineage.json").read_text())
    assert len(frame) == lineage["rows"] == 200
    assert lineage["frame_sha256"][:16] in made
    # The same labels, in another order, through the API: the same data (labels read from
    # CSV stay text, as they are in the frame).
    again = sqlite_project.repo.training_set(
        labels.iloc[::-1], end=sqlite_project.now.to_pydatetime(), save=False
    )
    (tmp_path / "b.lineage.json").write_text(again.lineage.to_json())
    compared = run_in_process(
        "features", "compare", str(tmp_path / "a.lineage.json"), str(tmp_path / "b.lineage.json")
    )
    assert "same data: True" in compared

    run_in_process("features", "materialize", "--project", folder)
    online = run_in_process("features", "online", str(SPOT), "--project", folder)
    assert json.loads(online.strip().splitlines()[-1])["income"] == 300.0


def test_bad_input_gets_one_clear_line_and_exit_2(sqlite_project: Project, tmp_path: Path) -> None:
    missing = decayguard(
        "features", "training-set", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x.pq"),
        "--project", str(sqlite_project.folder),
    )  # fmt: skip
    assert missing.returncode == 2
    assert "nope.csv" in missing.stderr
    assert "Traceback" not in missing.stderr

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "decayguard.yaml").write_text("features:\n  online_store: postgres\n")
    (bad / "feature_repo").mkdir()
    refused = decayguard("features", "apply", "--project", str(bad))
    assert refused.returncode == 2
    assert "features.online_store_url" in refused.stderr
    assert "Traceback" not in refused.stderr

    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"rows": 1, "surprise": True}))
    compared = decayguard("features", "compare", str(unknown), str(unknown))
    assert compared.returncode == 2
    assert "surprise" in compared.stderr


def _feast_serve_processes(port: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in cmdline and str(port).encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_command_serves_and_stops_its_workers(
    sqlite_project: Project, stop_signal: signal.Signals
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(VENV_BIN / "decayguard"), "features", "serve", "--project",
         str(sqlite_project.folder), "--port", str(port)],
        env=feast_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        ready = False
        while time.monotonic() < deadline and process.poll() is None and not ready:
            try:
                ready = httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.3)
        assert ready, process.stdout.read().decode() if process.stdout else ""
        answer = httpx.post(
            f"{url}/get-online-features",
            json={"feature_service": "credit_default_v1", "entities": {KEY: [SPOT]}},
        )
        assert answer.status_code == 200
        feast_processes = [pid for pid in _feast_serve_processes(port) if pid != process.pid]
        assert len(feast_processes) >= 2  # gunicorn's master and its worker
        process.send_signal(stop_signal)  # to the CLI only, not to feast serve's group
        # Also when this test runs with SIGINT ignored (a background job of a non-interactive
        # shell, as CI may start it): the command restores Ctrl-C itself.
        assert process.wait(timeout=30) == 0
        time.sleep(0.5)
        assert _feast_serve_processes(port) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for pid in _feast_serve_processes(port):
            os.kill(pid, signal.SIGKILL)
