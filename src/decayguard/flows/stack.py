"""The local Prefect stack of a project: ``decayguard up`` starts it, ``decayguard down`` stops it.

A Prefect server on SQLite (analytics off) with its home in the project's state folder, and
a flow runner serving the project's deployments (``decayguard-monitor/monitor``,
``decayguard-retrain/retrain`` and ``decayguard-release/release``,
:data:`decayguard.flows.names.SERVED_DEPLOYMENTS`).
Shutdown order matters (DESIGN.md): the runner first, then the server; otherwise the runner
retries against a dead API for minutes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from decayguard.config import DecayguardConfig
from decayguard.errors import ServiceError
from decayguard.flows.names import RETRAIN, SERVED_DEPLOYMENTS
from decayguard.processes import BackgroundProcess, PidFile, pid_alive, stop_process_group

if TYPE_CHECKING:
    import httpx

SERVER, RUNNER = "prefect-server", "flow-runner"


def prefect_env(cfg: DecayguardConfig) -> dict[str, str]:
    """Environment of every process that talks to the project's Prefect server."""
    home = cfg.path(cfg.project.state_dir).resolve() / "prefect"
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": cfg.orchestration.api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": str(max(1, round(cfg.orchestration.poll_seconds))),
        # Ride out a busy server (503s from its SQLite under load) but not for minutes:
        # `down` stops the runner before the server, so nothing retries against a dead one.
        "PREFECT_CLIENT_MAX_RETRIES": "3",
        # SQLite under a loaded machine: wait for the write lock rather than answer 503.
        "PREFECT_SERVER_DATABASE_TIMEOUT": "30",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # ...but what a flow run says (why it retrained, what it registered) reaches the UI.
        "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "INFO",
    }


@dataclass
class PrefectStack:
    cfg: DecayguardConfig
    processes: dict[str, BackgroundProcess] = field(default_factory=dict)

    @property
    def state(self) -> Path:
        return self.cfg.path(self.cfg.project.state_dir).resolve()

    @property
    def pid_file(self) -> PidFile:
        return PidFile(self.state / "up.json")

    def running(self) -> dict[str, int]:
        return {k: v for k, v in self.pid_file.read().items() if pid_alive(v)}

    def up(self, timeout: float = 120.0) -> PrefectStack:
        """Start the server (unless an external API is configured) and the flow runner."""
        if self.running():
            raise ServiceError(
                f"the stack of {self.cfg.root} is already up (pids {self.running()}); "
                "run `decayguard down` first"
            )
        env = prefect_env(self.cfg)
        Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
        logs = self.state / "logs"
        orch = self.cfg.orchestration
        try:
            if orch.prefect_api_url is None:
                server = BackgroundProcess(
                    SERVER,
                    [
                        sys.executable,
                        "-m",
                        "prefect",
                        "server",
                        "start",
                        "--host",
                        orch.prefect_host,
                        "--port",
                        str(orch.prefect_port),
                    ],
                    logs / "prefect-server.log",
                    env,
                    self.cfg.root,
                ).start()
                self.processes[SERVER] = server
                self._save()
                server.wait_http(f"{orch.api_url}/health", timeout)
            started = datetime.now(UTC)
            runner = BackgroundProcess(
                RUNNER,
                [sys.executable, "-m", "decayguard.flows.serve", str(self.cfg.root)],
                logs / "flow-runner.log",
                env,
                self.cfg.root,
            ).start()
            self.processes[RUNNER] = runner
            self._save()
            self._wait_deployments(started, timeout)
        except BaseException:
            self.down()
            raise
        return self

    def _save(self) -> None:
        self.pid_file.write({k: p.pid for k, p in self.processes.items() if p.pid})

    @property
    def deployments(self) -> tuple[str, ...]:
        """The ``flow/deployment`` names the flow runner serves."""
        return SERVED_DEPLOYMENTS

    def _wait_deployments(self, since: datetime, timeout: float) -> None:
        """Wait until the runner has registered (or, after a restart, updated) every deployment
        it serves and the retrain deployment's decay trigger: events sent before that would
        be matched by no automation and lost."""
        import time

        import httpx

        deadline = time.monotonic() + timeout
        runner = self.processes[RUNNER]
        waiting = list(self.deployments)
        with httpx.Client(base_url=self.cfg.orchestration.api_url, timeout=5.0) as api:
            while time.monotonic() < deadline:
                if runner.pid is None or not pid_alive(runner.pid):
                    raise ServiceError(f"the flow runner exited:\n{runner.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    waiting = [name for name in waiting if not self._registered(api, name, since)]
                    if not waiting:
                        return
                time.sleep(0.5)
        raise ServiceError(
            f"the deployments {', '.join(waiting)} did not appear within {timeout:.0f} s:\n"
            f"{runner.log_tail()}"
        )

    def _registered(self, api: httpx.Client, name: str, since: datetime) -> bool:
        found = api.get(f"/deployments/name/{name}")
        if found.status_code != 200:
            return False
        deployment = found.json()
        if datetime.fromisoformat(deployment["updated"]) < since:
            return False  # the previous runner's
        if name != RETRAIN or not self.cfg.training.on_decay:
            return True
        related = api.get(f"/automations/related-to/prefect.deployment.{deployment['id']}")
        return related.status_code == 200 and any(
            datetime.fromisoformat(a["created"]) >= since for a in related.json()
        )

    def down(self, timeout: float = 15.0) -> list[str]:
        """Stop the runner, then the server; returns the names stopped."""
        pids = {**self.pid_file.read(), **{k: p.pid for k, p in self.processes.items() if p.pid}}
        stopped = []
        for name in (RUNNER, SERVER):
            pid = pids.get(name)
            if pid is not None and pid_alive(pid):
                stop_process_group(pid, timeout)
                stopped.append(name)
        self.processes.clear()
        self.pid_file.clear()
        return stopped


def apply_prefect_env(cfg: DecayguardConfig) -> None:
    """Point this process's Prefect client at the project's server."""
    for key, value in prefect_env(cfg).items():
        if not key.startswith("PREFECT_LOGGING_"):
            os.environ[key] = value
