"""``python -m decayguard.flows.serve PROJECT``: serve the project's deployments (the flow runner).

Started by ``decayguard up`` with ``PREFECT_API_URL`` pointing at the project's Prefect server.
Three deployments:

- ``decayguard-monitor/monitor``: every ``monitoring.interval_minutes`` (when
  ``orchestration.schedule_monitor``);
- ``decayguard-retrain/retrain``: on ``training.schedule`` (cron, UTC) and, when
  ``training.on_decay``, on the monitor's ``decayguard.decay.detected`` event for this model;
- ``decayguard-release/release``: one release step (:func:`decayguard.release.run`)
  every ``monitoring.interval_minutes`` (when ``orchestration.schedule_monitor``).

Every deployment runs one flow run at a time and cancels newcomers (``CANCEL_NEW``).

Single-flight for retraining, in three layers (DESIGN.md): the trigger fires once per
``training.trigger_window_minutes`` (``threshold=1, within=...``), the deployment runs one flow
run at a time and cancels newcomers (``CANCEL_NEW``: overdue runs after a restart do not pile
up), and the store's lease per trigger window, which is what guarantees one training.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.deployments.runner import RunnerDeployment
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.schedules import Cron, Schedule

from decayguard.config import CONFIG_FILENAME, DecayguardConfig, load_config
from decayguard.errors import ConfigError
from decayguard.flows.monitor import monitor_flow
from decayguard.flows.names import (
    DECAY_EVENT,
    MONITOR_DEPLOYMENT,
    RELEASE_DEPLOYMENT,
    RETRAIN_DEPLOYMENT,
    model_resource_id,
)
from decayguard.flows.release import release_flow
from decayguard.flows.retrain import retrain_flow


def _one_at_a_time() -> ConcurrencyLimitConfig:
    return ConcurrencyLimitConfig(limit=1, collision_strategy="CANCEL_NEW")


def _monitor_interval(cfg: DecayguardConfig) -> timedelta | None:
    """``monitoring.interval_minutes``, or ``None`` (on demand) without
    ``orchestration.schedule_monitor``."""
    if not cfg.orchestration.schedule_monitor:
        return None
    return timedelta(minutes=cfg.monitoring.interval_minutes)


def monitor_deployment(cfg: DecayguardConfig) -> RunnerDeployment:
    """The monitor deployment of the project."""
    interval = _monitor_interval(cfg)
    monitor = monitor_flow.to_deployment(
        name=MONITOR_DEPLOYMENT,
        interval=interval,
        parameters={"project_dir": str(cfg.root)},
        description=f"Monitor {cfg.model.name}: drift, estimated, reviewed, realized performance",
        tags=["decayguard", cfg.model.name],
        # One monitor run at a time: overdue scheduled runs after a restart do not pile up.
        concurrency_limit=_one_at_a_time(),
    )
    assert isinstance(monitor, RunnerDeployment)  # to_deployment is sync outside an event loop
    return monitor


def retrain_schedule(cfg: DecayguardConfig) -> Schedule | None:
    """``training.schedule`` as a Prefect cron schedule (UTC) whose runs say ``schedule``."""
    if cfg.training.schedule is None:
        return None
    try:
        return Cron(cfg.training.schedule, timezone="UTC", parameters={"trigger": "schedule"})
    except ValueError as exc:
        raise ConfigError(
            f"{cfg.root / CONFIG_FILENAME}: training.schedule: not a cron expression "
            f"({cfg.training.schedule!r}): {exc}"
        ) from exc


def decay_trigger(cfg: DecayguardConfig) -> DeploymentEventTrigger:
    """Run a retraining on this model's decay event, once per trigger window.

    The event's payload becomes the flow's parameters through Prefect's Jinja templates:
    ``reason``, the event's time (``event_time``, which picks the store's trigger window, and
    ``labels_as_of``: the labels as they stood when the decay was seen), the decayed window's
    end (``now``, the retraining's clock) and where the decay began (``since``).
    """
    return DeploymentEventTrigger(
        name=f"retrain {cfg.model.name} on decay",
        expect={DECAY_EVENT},
        match={"prefect.resource.id": model_resource_id(cfg.model.name)},
        threshold=1,
        within=timedelta(minutes=cfg.training.trigger_window_minutes),
        parameters={
            "project_dir": str(cfg.root),
            "trigger": "decay",
            # Prefect 3.9 renders a lone `{{ expression }}` through `tojson`: a DateTime or a
            # missing payload key fails the action (InvalidJinja) and no flow run is created.
            # Hence `isoformat()` and `get` (a missing key becomes None: the flow's default).
            "reason": "{{ event.payload.get('reason') }}",
            "event_time": "{{ event.occurred.isoformat() }}",
            "now": "{{ event.payload.get('window_end') }}",
            "since": "{{ event.payload.get('decay_since') }}",
            "labels_as_of": "{{ event.occurred.isoformat() }}",
        },
    )


def retrain_deployment(cfg: DecayguardConfig) -> RunnerDeployment:
    """The retrain deployment of the project: schedule, decay trigger, one run at a time."""
    schedule = retrain_schedule(cfg)
    retrain = retrain_flow.to_deployment(
        name=RETRAIN_DEPLOYMENT,
        schedules=[schedule] if schedule is not None else None,
        triggers=[decay_trigger(cfg)] if cfg.training.on_decay else None,
        parameters={"project_dir": str(cfg.root)},
        description=f"Retrain {cfg.model.name} and register the challenger",
        tags=["decayguard", cfg.model.name],
        concurrency_limit=_one_at_a_time(),
    )
    assert isinstance(retrain, RunnerDeployment)
    return retrain


def release_deployment(cfg: DecayguardConfig) -> RunnerDeployment:
    """The release deployment of the project: one step on the monitor's interval."""
    release = release_flow.to_deployment(
        name=RELEASE_DEPLOYMENT,
        interval=_monitor_interval(cfg),
        parameters={"project_dir": str(cfg.root)},
        description=f"Move {cfg.model.name}'s challenger one step: shadow, canary, champion "
        "or rollback",
        tags=["decayguard", cfg.model.name],
        # One release step at a time: two would judge the same evidence twice.
        concurrency_limit=_one_at_a_time(),
    )
    assert isinstance(release, RunnerDeployment)
    return release


def main(project_dir: str) -> None:
    cfg = load_config(Path(project_dir))
    serve(
        monitor_deployment(cfg),
        retrain_deployment(cfg),
        release_deployment(cfg),
        print_starting_message=False,
    )


if __name__ == "__main__":
    main(sys.argv[1])
