"""The release flow: one :func:`decayguard.release.run` step on Prefect (a thin adapter).

The ``release`` deployment (:mod:`decayguard.flows.serve`) runs it every
``monitoring.interval_minutes``: each run finishes what an earlier one left half done, judges
the candidate on the evidence so far and moves it at most one step (``validated → shadow →
canary → champion``, or a rollback). Promotions and rollbacks are announced as the Prefect
events :data:`~decayguard.flows.names.PROMOTED_EVENT` and
:data:`~decayguard.flows.names.ROLLED_BACK_EVENT` on the model's resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.events import emit_event

from decayguard.config import load_config
from decayguard.flows.names import RELEASE_FLOW, model_resource
from decayguard.flows.retrain import parse_time
from decayguard.release.reconcile import EventSink
from decayguard.release.run import advance


def prefect_events(model_name: str) -> EventSink:
    """The core's event sink: each ``(name, payload)`` as a Prefect event on the model."""

    def emit(name: str, payload: dict[str, Any]) -> None:
        emit_event(event=name, resource=model_resource(model_name), payload=payload)

    return emit


@flow(name=RELEASE_FLOW, log_prints=False, retries=0, validate_parameters=True)
def release_flow(project_dir: str, now: str | None = None) -> dict[str, Any]:
    """One release step for the project in ``project_dir``.

    ``now``: ISO time of the step's clock (default: the wall clock); evidence after it is
    not used. Returns :meth:`decayguard.release.AdvanceOutcome.to_dict`.
    """
    logger = get_run_logger()
    cfg = load_config(Path(project_dir))
    outcome = advance(cfg, parse_time("now", now), events=prefect_events(cfg.model.name))
    for recovered in outcome.recovered:
        logger.warning("finished transition %s left unapplied by an earlier run", recovered)
    for step in outcome.steps:
        logger.info(
            "version %s: %s -> %s (%s by %s): %s",
            step.version,
            step.from_stage or "new",
            step.to_stage,
            step.action,
            step.actor,
            step.reason,
        )
    logger.info("%s", outcome.message or "no step")
    return outcome.to_dict()
