"""The one place that imports Feast, lazily, and runs its command line without telemetry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from decayguard.errors import ServiceError

#: Environment every Feast process gets: no usage telemetry, no tracking.
QUIET_ENV: Mapping[str, str] = {
    "FEAST_USAGE": "False",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def feast_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment plus :data:`QUIET_ENV` (and ``extra``), for a Feast subprocess."""
    env = {**os.environ, **QUIET_ENV}
    if extra:
        env.update(extra)
    return env


def import_feast() -> Any:
    """Import Feast with its telemetry off; raises ServiceError when it is not installed."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    try:
        import feast
    except ImportError as exc:  # the serving environment has no Feast, on purpose
        raise ServiceError(
            "Feast is not installed in this environment; use the control environment "
            "(pip install 'decayguard[control]')"
        ) from exc
    return feast


def feast_command() -> list[str]:
    """The ``feast`` executable of this Python environment."""
    beside = Path(sys.executable).with_name("feast")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("feast")
    if found is None:
        raise ServiceError("the `feast` command is not installed in this environment")
    return [found]


def run_feast(repo: Path, args: Sequence[str], *, timeout: float = 300.0) -> str:
    """Run ``feast -c REPO ARGS...``; returns its output, raises ServiceError with it on failure."""
    command = [*feast_command(), "-c", str(repo), *args]
    try:
        done = subprocess.run(
            command,
            env=feast_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"`feast {' '.join(args)}` in {repo} took over {timeout:.0f} s") from exc
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-15:])
        raise ServiceError(
            f"`feast {' '.join(args)}` failed in {repo} (exit {done.returncode}):\n{tail}"
        )
    return output
