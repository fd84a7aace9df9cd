"""``feast serve`` as a managed process: start, wait until ready, stop (its whole group).

Imports neither Feast nor anything heavy: it runs Feast's own command line in a new session so
that stopping it also stops Feast's gunicorn workers::

    with FeatureServer(repo_path, port=0) as server:   # port 0: a free loopback port
        OnlineFeatureClient(server.url).get("credit_default_v1", {"applicant_id": [1]})
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from decayguard.errors import ServiceError
from decayguard.features._feast import feast_command, feast_env
from decayguard.processes import free_port


class FeatureServer:
    """One ``feast serve`` HTTP process over the feature repo at ``repo``.

    ``port=0`` picks a free port. ``registry_ttl_sec`` is how often the server re-reads the
    registry (so a new ``apply`` is picked up). The server's output goes to ``log_path``
    (default: a temporary file), read back when it fails to start.
    """

    def __init__(
        self,
        repo: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 1,
        registry_ttl_sec: int = 5,
        max_requests: int = 0,
        access_log: bool = False,
        log_path: str | Path | None = None,
    ) -> None:
        self.repo = Path(repo).resolve()
        self.host = host
        self.port = port
        self.workers = workers
        self.registry_ttl_sec = registry_ttl_sec
        self.max_requests = max_requests
        self.access_log = access_log
        self.log_path = Path(log_path) if log_path is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._runtime_dir: Path | None = None

    @property
    def url(self) -> str:
        """Base URL of the server (known once started)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The ``feast serve`` command line this server runs."""
        command = [
            *feast_command(),
            "-c",
            str(self.repo),
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--registry_ttl_sec",
            str(self.registry_ttl_sec),
            # 0 turns off gunicorn's periodic worker restarts (latency spikes under load).
            "--max-requests",
            str(self.max_requests),
        ]
        if not self.access_log:
            command.append("--no-access-log")
        return command

    def start(self) -> FeatureServer:
        """Start ``feast serve`` in its own session; returns at once (see :meth:`wait_ready`)."""
        if self.running:
            raise ServiceError(f"feast serve is already running at {self.url}")
        if self.port == 0:
            self.port = free_port(self.host)
        # Gunicorn 25+ opens a control socket at $XDG_RUNTIME_DIR/gunicorn.ctl (else in
        # $HOME): shared by every server on the machine unless each gets its own folder.
        self._runtime_dir = Path(tempfile.mkdtemp(prefix="feast-serve-"))
        if self.log_path is None:
            self.log_path = self._runtime_dir / "feast-serve.log"
        self._log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                self.command(),
                cwd=self.repo,
                env=feast_env({"XDG_RUNTIME_DIR": str(self._runtime_dir)}),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            self._close_log()
            raise ServiceError(f"cannot start feast serve: {exc}") from exc
        return self

    def wait_ready(self, timeout: float = 90.0) -> FeatureServer:
        """Block until ``GET /health`` answers 200; raises ServiceError with the log tail."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    tail = self.log_tail()
                    self.stop()
                    raise ServiceError(f"feast serve exited while starting:\n{tail}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/health").status_code == 200:
                        return self
                time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise ServiceError(
            f"feast serve was not ready at {self.url} after {timeout:.0f} s:\n{tail}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its workers: SIGTERM to its group, SIGKILL after ``timeout``."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        elif process is not None:
            # The master is gone; make sure no orphaned worker of its group survives.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self._close_log()

    def wait(self) -> int:
        """Block until the server exits (the foreground ``decayguard features serve``)."""
        if self._process is None:
            raise ServiceError("feast serve is not running")
        try:
            return self._process.wait()
        finally:
            self.stop()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's output."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._runtime_dir is not None:
            # Keeps a log the caller asked for elsewhere; removes our own folder and socket.
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            if self.log_path is not None and self._runtime_dir in self.log_path.parents:
                self.log_path = None
            self._runtime_dir = None

    def __enter__(self) -> FeatureServer:
        return self.start().wait_ready()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
