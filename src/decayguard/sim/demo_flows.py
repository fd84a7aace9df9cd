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
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from decayguard.config import DecayguardConfig
from decayguard.errors import ServiceError
from decayguard.store import create_store_engine

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


def may_retrain(cfg: DecayguardConfig, now: datetime) -> bool:
    """Whether the monitor run just sent a decay event that may train (a decay incident is
    open and the last retraining that trained is older than the cooldown): the demo waits for
    those; the ones the cooldown skips end in a moment beside it."""
    from decayguard.alerts.incidents import open_incidents
    from decayguard.store.training_runs import last_training

    engine = create_store_engine(cfg.resolved_store_url)
    try:
        if not any(str(i["rule"]).startswith("decay.") for i in open_incidents(engine)):
            return False
        last = last_training(engine, cfg.model.name, statuses=("registered",))
        cooldown = timedelta(hours=cfg.training.min_hours_between)
        return last is None or pd.Timestamp(last["as_of"]) <= pd.Timestamp(now) - cooldown
    finally:
        engine.dispose()


def training_in_flight(cfg: DecayguardConfig) -> bool:
    """Whether a retraining is training, or has registered a version the gate has not judged
    yet (retrainings that are skipped or wait for labels end in a moment: not waited for)."""
    from decayguard.store.gate_reports import latest_gate_report
    from decayguard.store.training_runs import training_history

    engine = create_store_engine(cfg.resolved_store_url)
    try:
        for run in training_history(engine, cfg.model.name):
            if run["status"] == "running":
                return True
            version = run["version"]
            registered = run["status"] == "registered" and version is not None
            if registered and latest_gate_report(engine, cfg.model.name, str(version)) is None:
                return True
        return False
    finally:
        engine.dispose()


def on_trial(cfg: DecayguardConfig) -> bool:
    """Whether the release has a challenger to move (validated, shadow or canary): the demo
    runs the release deployment then (in production it runs every interval; a run with
    nothing to move only costs a flow-run process, which the demo's pace cannot afford)."""
    from decayguard.release.stages import Stage
    from decayguard.store.releases import list_releases

    engine = create_store_engine(cfg.resolved_store_url)
    try:
        waiting = [Stage.VALIDATED, Stage.SHADOW, Stage.CANARY]
        return bool(list_releases(engine, cfg.model.name, waiting))
    finally:
        engine.dispose()


class PersonsRetraining:
    """Two simulated days after the first promotion, a person retrains by hand (if the loop
    has not retrained again by then, this is the training function's second call: the
    deliberately bad challenger)."""

    def __init__(self) -> None:
        self.done = False

    def due(self, cfg: DecayguardConfig, now: datetime) -> bool:
        if self.done:
            return False
        from decayguard.store.releases import release_history

        engine = create_store_engine(cfg.resolved_store_url)
        try:
            history = release_history(engine, cfg.model.name)
        finally:
            engine.dispose()
        promoted = [t for t in history if t["action"] == "promote"]
        if promoted and now >= promoted[0]["created_at"] + timedelta(days=2):
            self.done = True
        return self.done
