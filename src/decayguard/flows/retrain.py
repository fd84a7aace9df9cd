"""The retrain flow: :func:`decayguard.training.retrain_once` on Prefect (a thin adapter).

The ``retrain`` deployment (:mod:`decayguard.flows.serve`) runs it on ``training.schedule``
and on the monitor's decay event, whose payload arrives through Prefect's templates as text:
``event_time`` (when the event occurred: it picks the trigger window) and ``now`` (the end of
the monitor window that decayed: the retraining's clock). Single-flight is the core's (a lease
in the store per model and trigger window, plus the cooldown); the deployment's trigger
threshold and concurrency limit only keep Prefect from creating and starting runs for nothing.

A training function that fails ends the flow run Failed (after the outcome is recorded and
alerted by the core), so Prefect shows it; the flow never retries a failed training.

Right after a registration the flow runs the champion/challenger gate
(:func:`decayguard.training.gating.gate_once`); its report is in the returned ``gate``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast, get_args

from prefect import flow, get_run_logger
from prefect.events import emit_event

from decayguard.config import load_config
from decayguard.errors import InputValidationError, TrainingError
from decayguard.flows.names import CHALLENGER_EVENT, RETRAIN_FLOW, model_resource
from decayguard.training.gating import gate_once
from decayguard.training.retrain import RetrainOutcome, RetrainTrigger, TriggerKind, retrain_once

_LEVELS = {"registered": logging.INFO, "failed": logging.ERROR}


def parse_time(name: str, value: str | datetime | None) -> datetime | None:
    """An ISO date-time from a template (``2026-11-01T00:00:00Z``) as an aware UTC datetime;
    naive times are UTC. Empty or ``None``: ``None``."""
    if value is None or isinstance(value, datetime):
        moment = value
    elif not value.strip() or value.strip().lower() in {"none", "null"}:
        return None
    else:
        try:
            moment = datetime.fromisoformat(value.strip().strip('"'))
        except ValueError as exc:
            raise InputValidationError(name, f"not an ISO date-time: {value!r}") from exc
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _trigger_kind(trigger: str) -> TriggerKind:
    kinds = get_args(TriggerKind)
    if trigger not in kinds:
        raise InputValidationError("trigger", f"{trigger!r} is not one of {', '.join(kinds)}")
    return cast(TriggerKind, trigger)


def _schedule_slot() -> datetime | None:
    """The scheduled start of this flow run: two late runs of one slot share a trigger."""
    from prefect.runtime import flow_run

    slot = flow_run.scheduled_start_time
    return slot if isinstance(slot, datetime) else None


def _announce(outcome: RetrainOutcome) -> None:
    if outcome.status != "registered":
        return
    emit_event(
        event=CHALLENGER_EVENT,
        resource=model_resource(outcome.model_name),
        payload={
            "version": outcome.version,
            "parent_version": outcome.parent_version,
            "run_id": outcome.run_id,
            "trigger": outcome.trigger,
            "lineage_hash": outcome.lineage_hash,
        },
    )


@flow(name=RETRAIN_FLOW, log_prints=False, retries=0, validate_parameters=True)
def retrain_flow(
    project_dir: str,
    trigger: str = "manual",
    reason: str | None = None,
    event_time: str | None = None,
    now: str | None = None,
    since: str | None = None,
    labels_as_of: str | None = None,
) -> dict[str, Any]:
    """One retraining of the project in ``project_dir`` (see the module doc).

    ``trigger``: ``manual``, ``schedule`` or ``decay``; ``reason``: why (the decay reason);
    ``event_time``: ISO time of the triggering event (a schedule: the run's slot);
    ``now``: ISO time of the retraining's clock (default: the wall clock);
    ``since``: ISO time the decay began (the decay event's ``decay_since``);
    ``labels_as_of``: read the store's labels as they stood then (a decay event: the time it
    occurred, so the retraining learns what was known when the decay was seen, however late
    it starts; default: the wall clock).
    Returns :meth:`RetrainOutcome.to_dict`.
    """
    logger = get_run_logger()
    kind = _trigger_kind(trigger)
    at = parse_time("event_time", event_time)
    if at is None and kind == "schedule":
        at = _schedule_slot()
    clock = parse_time("now", now)
    cfg = load_config(Path(project_dir))
    began = parse_time("since", since)
    outcome = retrain_once(
        cfg,
        RetrainTrigger(kind, reason or None, at, began),
        now=clock,
        labels_as_of=parse_time("labels_as_of", labels_as_of),
        progress=logger.info,
    )
    logger.log(_LEVELS.get(outcome.status, logging.WARNING), "%s", outcome.message)
    if outcome.status == "failed":
        function = cfg.model.train_function or "(model.train_function unset)"
        # the core's message already names the function once
        raise TrainingError(
            function, outcome.message.replace(f"training function {function}: ", "")
        )
    _announce(outcome)
    result = outcome.to_dict()
    if outcome.status == "registered" and outcome.version is not None:
        report = gate_once(cfg, outcome.version, now=clock)
        logger.log(
            logging.INFO if report.passed else logging.WARNING,
            "gate on version %s: %s",
            outcome.version,
            report.reason,
        )
        result["gate"] = report.to_dict()
    return result
