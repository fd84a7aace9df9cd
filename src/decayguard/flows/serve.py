"""``python -m decayguard.flows.serve PROJECT``: serve the project's deployments (the flow runner).

Started by ``decayguard up`` with ``PREFECT_API_URL`` pointing at the project's Prefect server.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.deployments.runner import RunnerDeployment

from decayguard.config import load_config
from decayguard.flows.monitor import monitor_flow

MONITOR_DEPLOYMENT = "monitor"


def main(project_dir: str) -> None:
    cfg = load_config(Path(project_dir))
    interval = (
        timedelta(minutes=cfg.monitoring.interval_minutes)
        if cfg.orchestration.schedule_monitor
        else None
    )
    monitor = monitor_flow.to_deployment(
        name=MONITOR_DEPLOYMENT,
        interval=interval,
        parameters={"project_dir": str(cfg.root)},
        description=f"Monitor {cfg.model.name}: drift, estimated, reviewed, realized performance",
        tags=["decayguard", cfg.model.name],
        # One monitor run at a time: overdue scheduled runs after a restart do not pile up.
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="CANCEL_NEW"),
    )
    assert isinstance(monitor, RunnerDeployment)  # to_deployment is sync outside an event loop
    serve(monitor, print_starting_message=False)


if __name__ == "__main__":
    main(sys.argv[1])
