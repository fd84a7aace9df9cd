"""One real Prefect server for the whole test session (DESIGN.md: ~3 s with a migrated home)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from decayguard.processes import BackgroundProcess, free_port

PREFECT_HOME = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / (
    "decayguard-tests/prefect-home"
)


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `prefect server start` on a free loopback port; its API URL."""
    port = free_port()
    PREFECT_HOME.mkdir(parents=True, exist_ok=True)
    env = {
        "PREFECT_HOME": str(PREFECT_HOME),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_DATABASE_TIMEOUT": "30",
    }
    env.pop("PREFECT_API_URL", None)
    server = BackgroundProcess(
        "prefect-server",
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        tmp_path_factory.mktemp("prefect") / "server.log",
        env,
        Path.cwd(),
    ).start()
    url = f"http://127.0.0.1:{port}/api"
    try:
        server.wait_http(f"{url}/health", timeout=120)
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def prefect_api(prefect_api_url: str) -> Iterator[httpx.Client]:
    """An HTTP client on the session's Prefect API (no Prefect client in the test process:
    nothing to drain at teardown)."""
    with httpx.Client(base_url=prefect_api_url, timeout=30.0) as client:
        yield client
