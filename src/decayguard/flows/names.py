"""Every Prefect name decayguard uses, in one place: flows, deployments, events, resources.

The flows, the runner (:mod:`decayguard.flows.serve`), the stack, the demo and the tests
refer to these constants, so renaming one cannot leave a trigger listening for nothing.
"""

from __future__ import annotations

MONITOR_FLOW = "decayguard-monitor"
"""The monitor flow (:func:`decayguard.flows.monitor.monitor_flow`)."""
MONITOR_DEPLOYMENT = "monitor"
"""Its deployment, served by the flow runner on ``monitoring.interval_minutes``."""
RETRAIN_FLOW = "decayguard-retrain"
"""The retrain flow (:func:`decayguard.flows.retrain.retrain_flow`)."""
RETRAIN_DEPLOYMENT = "retrain"
"""Its deployment: ``training.schedule`` and the decay event trigger."""
RELEASE_FLOW = "decayguard-release"
"""The release flow (:func:`decayguard.flows.release.release_flow`): one
:func:`decayguard.release.run` step."""
RELEASE_DEPLOYMENT = "release"
"""Its deployment, served on ``monitoring.interval_minutes`` (when
``orchestration.schedule_monitor``; else on demand)."""

DECAY_EVENT = "decayguard.decay.detected"
"""Emitted by the monitor flow on decay; payload ``reason``, ``model_version``,
``window_end`` (ISO time), ``strategies``, ``decay_since`` (ISO time the open decay began, as
the monitor estimates it, or null). Triggers the retrain deployment."""
CHALLENGER_EVENT = "decayguard.challenger.registered"
"""Emitted by the retrain flow when a retraining registered a challenger; payload
``version``, ``parent_version``, ``run_id``, ``trigger``, ``lineage_hash``."""
PROMOTED_EVENT = "decayguard.release.promoted"
"""Emitted by the release core once a version's move to champion is applied (the judge's
promotion, a person's promote, deploy or restore); payload ``version``, ``from_stage``,
``action``, ``reason``, ``actor``, ``previous_champion`` (the version it replaced, or
``None``). The release flow sends it to Prefect."""
ROLLED_BACK_EVENT = "decayguard.release.rolled_back"
"""Emitted once a version was taken off live traffic (the candidate, or a champion whose
predecessor serves again); payload as :data:`PROMOTED_EVENT`'s."""

RESOURCE_PREFIX = "decayguard.model."
"""Events about a model are on the resource ``decayguard.model.<name>``."""


def deployment_name(flow: str, deployment: str) -> str:
    """The ``flow/deployment`` name Prefect's ``run_deployment`` and API expect."""
    return f"{flow}/{deployment}"


MONITOR = deployment_name(MONITOR_FLOW, MONITOR_DEPLOYMENT)
RETRAIN = deployment_name(RETRAIN_FLOW, RETRAIN_DEPLOYMENT)
RELEASE = deployment_name(RELEASE_FLOW, RELEASE_DEPLOYMENT)
SERVED_DEPLOYMENTS = (MONITOR, RETRAIN, RELEASE)
"""What the flow runner serves, in the order ``decayguard up`` lists them."""


def model_resource_id(model_name: str) -> str:
    """The Prefect resource id of a model's events."""
    return f"{RESOURCE_PREFIX}{model_name}"


def model_resource(model_name: str) -> dict[str, str]:
    """The Prefect ``resource`` of a model's events (id and display name)."""
    return {
        "prefect.resource.id": model_resource_id(model_name),
        "prefect.resource.name": model_name,
    }
