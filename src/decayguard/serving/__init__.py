"""Serving on Seldon MLServer: the decayguard runtime, durable prediction logging,
hot swap, shadow and canary.

The runtime itself (:mod:`decayguard.serving.runtime`) imports MLServer and runs only
in the serving environment; everything re-exported here imports in both. The exports
are loaded on first use, so that importing a submodule (the shipper process starts
with ``python -m decayguard.serving.run_shipper``) does not pay for all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decayguard.serving.deploy import (
        deploy_model,
        install_artifact,
        load_into_server,
        models_dir_for,
        read_deployment,
        spool_dir_for,
        write_model_settings,
    )
    from decayguard.serving.logger import PredictionLogger
    from decayguard.serving.process import ServingProcess, find_mlserver, stop_from_pid_file
    from decayguard.serving.routing import Canary, ChampionOnly, Route, Shadow, routing_policy
    from decayguard.serving.settings import ArtifactPin, FeastLookup, ReviewSpec, RuntimeSettings
    from decayguard.serving.shipper import SpoolShipper, store_engine
    from decayguard.serving.smoke import SmokeResult, smoke_test

_EXPORTS = {
    "ArtifactPin": "settings",
    "Canary": "routing",
    "ChampionOnly": "routing",
    "FeastLookup": "settings",
    "PredictionLogger": "logger",
    "ReviewSpec": "settings",
    "Route": "routing",
    "RuntimeSettings": "settings",
    "ServingProcess": "process",
    "Shadow": "routing",
    "SmokeResult": "smoke",
    "SpoolShipper": "shipper",
    "deploy_model": "deploy",
    "find_mlserver": "process",
    "install_artifact": "deploy",
    "load_into_server": "deploy",
    "models_dir_for": "deploy",
    "read_deployment": "deploy",
    "routing_policy": "routing",
    "smoke_test": "smoke",
    "spool_dir_for": "deploy",
    "stop_from_pid_file": "process",
    "store_engine": "shipper",
    "write_model_settings": "deploy",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'decayguard.serving' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"decayguard.serving.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ArtifactPin",
    "Canary",
    "ChampionOnly",
    "FeastLookup",
    "PredictionLogger",
    "ReviewSpec",
    "Route",
    "RuntimeSettings",
    "ServingProcess",
    "Shadow",
    "SmokeResult",
    "SpoolShipper",
    "deploy_model",
    "find_mlserver",
    "install_artifact",
    "load_into_server",
    "models_dir_for",
    "read_deployment",
    "routing_policy",
    "smoke_test",
    "spool_dir_for",
    "stop_from_pid_file",
    "store_engine",
    "write_model_settings",
]
