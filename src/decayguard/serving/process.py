"""Running MLServer from the serving environment: start, wait until ready, stop.

    server = ServingProcess.from_config(load_config("."))
    server.start().wait_ready()
    ...
    server.stop()

MLServer runs in its own session (its pid is its process group), with
``parallel_workers: 0``: measured here, swaps under load dropped no request that way
and dropped some with parallel workers; it also keeps one writer per prediction spool.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from decayguard.config import DecayguardConfig
from decayguard.errors import ServiceError
from decayguard.processes import pid_alive, stop_process_group
from decayguard.serving.deploy import models_dir_for, spool_dir_for

SERVER_SETTINGS = "settings.json"
MLSERVER_ENV_VAR = "DECAYGUARD_MLSERVER"
_QUIET_ENV = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "FEAST_USAGE": "False",
}


def find_mlserver(project_root: Path | None = None) -> Path:
    """The ``mlserver`` executable of the serving environment.

    Looked up in ``$DECAYGUARD_MLSERVER``, then ``.venv-serve/bin/mlserver`` in the
    project folder and its parents, then next to decayguard's own source checkout,
    then on ``PATH``.
    """
    explicit = os.environ.get(MLSERVER_ENV_VAR)
    if explicit:
        return Path(explicit)
    starts = [p for p in (project_root, Path.cwd(), Path(__file__).resolve()) if p is not None]
    for start in starts:
        for folder in (start, *start.resolve().parents):
            candidate = folder / ".venv-serve" / "bin" / "mlserver"
            if candidate.exists():
                return candidate
    found = shutil.which("mlserver")
    if found:
        return Path(found)
    raise ServiceError(
        "cannot find MLServer: create the serving environment (.venv-serve with "
        f"decayguard[serving]) or set {MLSERVER_ENV_VAR} to its mlserver executable"
    )


@dataclass
class ServingProcess:
    """One ``mlserver start`` process serving a models folder."""

    models_dir: Path
    http_port: int
    grpc_port: int
    metrics_port: int
    host: str = "127.0.0.1"
    mlserver: Path | None = None
    log_path: Path | None = None
    pid_file: Path | None = None
    spool_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_config(cls, config: DecayguardConfig) -> ServingProcess:
        state = config.path(config.project.state_dir).resolve()
        return cls(
            models_dir=models_dir_for(config),
            http_port=config.serving.http_port,
            grpc_port=config.serving.grpc_port,
            metrics_port=config.serving.metrics_port,
            host=config.serving.host,
            mlserver=find_mlserver(config.root),
            log_path=state / "logs" / "mlserver.log",
            pid_file=state / "mlserver.pid",
            spool_dir=spool_dir_for(config),
        )

    @property
    def url(self) -> str:
        """Base URL of the HTTP (REST) endpoint."""
        return f"http://{self.host}:{self.http_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def write_server_settings(self) -> Path:
        """MLServer's ``settings.json`` in the models folder."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        path = self.models_dir / SERVER_SETTINGS
        settings = {
            "host": self.host,
            "http_port": self.http_port,
            "grpc_port": self.grpc_port,
            "metrics_port": self.metrics_port,
            "parallel_workers": 0,
            "load_models_at_startup": True,
            "model_repository_root": str(self.models_dir),
        }
        path.write_text(json.dumps(settings, indent=2) + "\n")
        return path

    def start(self) -> ServingProcess:
        """Start MLServer in its own process group (returns at once; see :meth:`wait_ready`)."""
        if self._proc is not None and self._proc.poll() is None:
            raise ServiceError(f"MLServer is already running (pid {self._proc.pid})")
        mlserver = self.mlserver or find_mlserver()
        self.write_server_settings()
        env = {**os.environ, **_QUIET_ENV, **self.env}
        env.pop("PYTHONPATH", None)  # the serving env has its own decayguard install
        log: int | BinaryIO = subprocess.DEVNULL if self.log_path is None else self._open_log()
        try:
            self._proc = subprocess.Popen(
                [str(mlserver), "start", str(self.models_dir)],
                cwd=self.models_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServiceError(f"cannot start {mlserver}: {exc}") from exc
        finally:
            if not isinstance(log, int):
                log.close()
        if self.pid_file is not None:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{self._proc.pid}\n")
        return self

    def _open_log(self) -> BinaryIO:
        assert self.log_path is not None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.log_path.open("ab")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, timeout: float = 60.0) -> ServingProcess:
        """Block until every model is loaded; :class:`ServiceError` if MLServer dies or stalls."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    raise ServiceError(
                        f"MLServer exited with code {self._proc.returncode}:\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/v2/health/ready").status_code == 200:
                        return self
                time.sleep(0.2)
        raise ServiceError(
            f"MLServer at {self.url} not ready after {timeout:.0f} s:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL it."""
        if self._proc is None:
            return None
        code = stop_process_group(self._proc.pid, timeout, popen=self._proc)
        if self.pid_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.pid_file.unlink()
        return code

    def wait(self) -> int | None:
        """Block until MLServer exits; its exit code (``None`` if never started)."""
        return self._proc.wait() if self._proc is not None else None

    def kill(self, *, with_shipper: bool = True) -> None:
        """SIGKILL MLServer's process group at once, and (``with_shipper``) the prediction
        log shipper of ``spool_dir`` too: a crash of the whole container (crash testing)."""
        shipper_pid = None
        if with_shipper and self.spool_dir is not None:
            from decayguard.serving.shipper import read_status

            status = read_status(self.spool_dir) or {}
            pid = status.get("pid")
            shipper_pid = pid if isinstance(pid, int) else None
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        if shipper_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(shipper_pid, signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait()

    def __enter__(self) -> ServingProcess:
        return self.start().wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_from_pid_file(pid_file: Path, timeout: float = 15.0) -> bool:
    """Stop the server recorded in ``pid_file``; False if none was running."""
    try:
        pid = int(pid_file.read_text().strip())
    except FileNotFoundError:
        return False
    except ValueError as exc:
        raise ServiceError(f"{pid_file}: not a pid file") from exc
    running = pid_alive(pid)
    if running:
        stop_process_group(pid, timeout)
    pid_file.unlink(missing_ok=True)
    return running
