"""The demo's calls into Prefect: each simulated step runs the deployments the runner serves.

Simulated time runs far faster than wall-clock time, so the demo runs the monitor and the
release deployments itself, with the simulated ``now``, instead of waiting for their
schedules; the retraining is started by Prefect itself, on the monitor's decay event: it runs
beside the demo and reads the store's labels as they stood when the decay was seen, so a late
start never lets it learn from its future. A person's retraining is a manual run of the same
deployment.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from decayguard.config import DecayguardConfig
from decayguard.errors import ServiceError

EVENT_GRACE_SECONDS = 8.0
"""How long a decayed monitor run's event may take to become a retrain flow run."""


def run_deployment_now(name: str, parameters: dict[str, Any], timeout: float = 600) -> Any:
    """Run a served deployment and wait for it; :class:`ServiceError` unless it completed."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    run = run_deployment(name, parameters=parameters, timeout=timeout, poll_interval=0.5)
    assert isinstance(run, FlowRun)  # run_deployment is sync outside an event loop
    state = run.state
    if state is None or not state.is_completed():
        raise ServiceError(f"{name} run {run.name} ended {state.type if state else 'unknown'}")
    return run


def run_monitor(cfg: DecayguardConfig, now: datetime) -> None:
    from decayguard.flows.names import MONITOR

    run_deployment_now(MONITOR, {"project_dir": str(cfg.root), "now": now.isoformat()})


def run_release(cfg: DecayguardConfig, now: datetime) -> None:
    from decayguard.flows.names import RELEASE

    run_deployment_now(RELEASE, {"project_dir": str(cfg.root), "now": now.isoformat()})


def request_retraining(cfg: DecayguardConfig, now: datetime, reason: str) -> None:
    """A person's retraining (``decayguard retrain``), on the same deployment, left to run
    beside the demo like the ones the decay events start."""
    from prefect.deployments import run_deployment

    from decayguard.flows.names import RETRAIN

    parameters = {
        "project_dir": str(cfg.root),
        "trigger": "manual",
        "reason": reason,
        "now": now.isoformat(),
        "labels_as_of": datetime.now(UTC).isoformat(),
    }
    run_deployment(RETRAIN, parameters=parameters, timeout=0)


def await_triggered_retraining(since: datetime, *, expect: bool = False) -> int:
    """Wait for every retrain flow run created since ``since`` (wall clock) to finish; with
    ``expect`` (a decay event was just sent), first give the automation time to create one.
    Returns the number of runs waited for."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
    )

    from decayguard.flows.names import RETRAIN

    deadline = time.monotonic() + (EVENT_GRACE_SECONDS if expect else 0.0)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(RETRAIN)
        by_deployment = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        recent = FlowRunFilter(
            expected_start_time=FlowRunFilterExpectedStartTime(after_=since.astimezone(UTC))
        )

        def read() -> list[Any]:
            return list(
                client.read_flow_runs(flow_run_filter=recent, deployment_filter=by_deployment)
            )

        while True:
            runs = read()
            if runs or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        finish = time.monotonic() + 900
        while any(r.state is None or not r.state.is_final() for r in runs):
            if time.monotonic() > finish:
                raise ServiceError("a retrain flow run did not finish within 15 minutes")
            time.sleep(0.5)
            runs = read()
        return len(runs)
