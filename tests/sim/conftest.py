"""Fixtures of the simulator tests: one drawn scenario and one real MLServer per session."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import joblib
import pytest
from sklearn.pipeline import Pipeline

from decayguard.sim import LoanScenario, Simulation, train_model

ROOT = Path(__file__).resolve().parents[2]
SERVE_BIN = ROOT / ".venv-serve" / "bin"
MODEL_NAME = "credit-default"


@pytest.fixture(scope="session")
def simulation() -> Simulation:
    return LoanScenario(seed=7).simulate()


@pytest.fixture(scope="session")
def champion(simulation: Simulation) -> Pipeline:
    return train_model(simulation.reference_frame())


def _free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", FEAST_USAGE="False")
    return env


@pytest.fixture(scope="session")
def mlserver_url(champion: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlserver start`` (serving env) with the built-in sklearn runtime serving the
    champion exported with joblib; yields its base URL."""
    folder = tmp_path_factory.mktemp("mlserver")
    joblib.dump(champion, folder / "model.joblib")
    http_port, grpc_port, metrics_port = _free_ports(3)
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": http_port,
                "grpc_port": grpc_port,
                "metrics_port": metrics_port,
                "parallel_workers": 0,
                "debug": False,
            }
        )
    )
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL_NAME,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"},
            }
        )
    )
    log = (folder / "mlserver.log").open("w")
    process = subprocess.Popen(
        [str(SERVE_BIN / "mlserver"), "start", str(folder)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_subprocess_env(),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlserver exited: {(folder / 'mlserver.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/v2/models/{MODEL_NAME}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlserver not ready: {(folder / 'mlserver.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
