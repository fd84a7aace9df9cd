"""The monitor flow: ``decayguard.watch.monitor_once`` on Prefect, plus the decay event.

On decay it emits the Prefect event ``decayguard.decay.detected`` on the resource
``decayguard.model.<name>`` with the reason in its payload; the retraining deployment
triggers on it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.client.schemas.objects import State
from prefect.events import emit_event

from decayguard.config import load_config
from decayguard.errors import DecayguardError, ServiceError, StoreError
from decayguard.flows.names import DECAY_EVENT, MONITOR_FLOW, model_resource
from decayguard.watch.run import monitor_once


def _transient(task: object, task_run: object, state: State[Any]) -> bool:
    """Retry what may pass on its own (a locked or restarting store), not a bad project."""
    try:
        state.result()
    except DecayguardError as exc:
        return isinstance(exc, StoreError | ServiceError)
    except Exception:
        return True
    return False


@task(name="check-model", retries=2, retry_delay_seconds=2, retry_condition_fn=_transient)
def check_model(project_dir: str, now: datetime | None) -> dict[str, Any]:
    """Read the window, run the three strategies, write metric points, process alerts.

    Retried: a store that is briefly locked or restarting should not lose a run.
    """
    cfg = load_config(Path(project_dir))
    outcome = monitor_once(cfg, now)
    result = outcome.report.to_dict()
    result["decay_since"] = outcome.decay_since.isoformat() if outcome.decay_since else None
    result["alerts"] = [{"fingerprint": a.fingerprint, "action": a.action} for a in outcome.alerts]
    return result


@flow(name=MONITOR_FLOW, log_prints=False)
def monitor_flow(project_dir: str, now: datetime | None = None) -> dict[str, Any]:
    """One monitor run for the project in ``project_dir`` (``now``: end of the window)."""
    logger = get_run_logger()
    result = check_model(project_dir, now)
    logger.info(
        "%s v%s: %d predictions, decayed=%s, drifted=%s",
        result["model_name"],
        result["model_version"],
        result["n_predictions"],
        result["decayed"],
        result["drifted_features"],
    )
    if result["decayed"]:
        emit_event(
            event=DECAY_EVENT,
            resource=model_resource(result["model_name"]),
            payload={
                "reason": result["decay_reason"],
                "model_version": result["model_version"],
                "window_end": result["now"],
                "decay_since": result["decay_since"],
                "strategies": [s for s, v in result["verdicts"].items() if v["decayed"]],
            },
        )
        logger.warning("decay detected: %s", result["decay_reason"])
    return result
