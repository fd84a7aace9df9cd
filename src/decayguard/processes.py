"""Background processes of the control plane (Prefect server, flow runner, control API).

Each runs in its own session, so its pid is its process group and stopping it stops its
children too; a JSON pid file under the project's state folder lets a later command
(``decayguard down``) find and stop what ``decayguard up`` started.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from decayguard.errors import ServiceError

QUIET_ENV = {
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",  # MLflow 3.17 reads DO_NOT_TRACK only when it is "true"
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "FEAST_USAGE": "False",
}


_LISTEN_PORTS = (20000, 32768)
"""Where :func:`free_port` looks: below Linux's default ephemeral range (32768-60999), which
the kernel hands to outgoing connections. A port taken from that range (``bind(0)``) can be
handed to some client's connection before the server meant to listen on it starts."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, outside the ephemeral range."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(*_LISTEN_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # a crowded range: let the kernel choose
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not; one of our own children is reaped)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def stop_process_group(
    pid: int, timeout: float = 15.0, popen: subprocess.Popen[bytes] | None = None
) -> int | None:
    """Stop a process started in its own session: SIGTERM, wait, then SIGKILL the group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None:
            if popen.poll() is not None:
                break
        elif not pid_alive(pid):
            break
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if popen is not None:
        return popen.wait()
    return None


@dataclass
class BackgroundProcess:
    """A named command started in its own session, logging to a file."""

    name: str
    command: Sequence[str]
    log_path: Path
    env: Mapping[str, str]
    cwd: Path
    pid: int | None = None

    def start(self) -> BackgroundProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                proc = subprocess.Popen(
                    list(self.command),
                    cwd=self.cwd,
                    env={**os.environ, **QUIET_ENV, **self.env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ServiceError(f"cannot start {self.name}: {exc}") from exc
        self.pid = proc.pid
        return self

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_http(self, url: str, timeout: float = 90.0) -> None:
        """Block until ``url`` answers 200; :class:`ServiceError` if the process dies first."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.pid is None or not pid_alive(self.pid):
                    raise ServiceError(f"{self.name} exited during start-up:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return
                time.sleep(0.25)
        raise ServiceError(f"{self.name} not ready at {url} after {timeout:.0f} s")

    def stop(self, timeout: float = 15.0) -> None:
        if self.pid is not None:
            stop_process_group(self.pid, timeout)
            self.pid = None


def python_command(module: str, *args: str) -> list[str]:
    """Run a module of decayguard with this interpreter (the control environment)."""
    return [sys.executable, "-m", module, *args]


class PidFile:
    """``{name: pid}`` of the processes one command started, in the project's state folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {str(k): int(v) for k, v in data.items()}

    def write(self, pids: Mapping[str, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(dict(pids)))

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
