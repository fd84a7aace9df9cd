"""Serving on Seldon MLServer: the decayguard runtime, durable prediction logging,
hot swap, shadow and canary.

The runtime itself (:mod:`decayguard.serving.runtime`) imports MLServer and runs only
in the serving environment; everything re-exported here imports in both.
"""

from decayguard.serving.deploy import (
    deploy_model,
    install_artifact,
    load_into_server,
    models_dir_for,
    read_deployment,
    spool_dir_for,
    write_model_settings,
)
from decayguard.serving.logger import PredictionLogger, SpoolShipper, store_engine
from decayguard.serving.process import ServingProcess, find_mlserver, stop_from_pid_file
from decayguard.serving.routing import Canary, ChampionOnly, Route, Shadow, routing_policy
from decayguard.serving.settings import ArtifactPin, FeastLookup, ReviewSpec, RuntimeSettings

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
    "SpoolShipper",
    "deploy_model",
    "find_mlserver",
    "install_artifact",
    "load_into_server",
    "models_dir_for",
    "read_deployment",
    "routing_policy",
    "spool_dir_for",
    "stop_from_pid_file",
    "store_engine",
    "write_model_settings",
]
