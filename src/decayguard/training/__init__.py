"""Continuous training: the train-function contract, training sets for retraining and
``retrain_once``, the one function the retrain flow, the CLI and the backtest call.

Importing this package is cheap; each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RetrainOutcome": "decayguard.training.retrain",
    "RetrainTrigger": "decayguard.training.retrain",
    "RetrainingData": "decayguard.training.sets",
    "TrainingMetadata": "decayguard.training.contract",
    "TrainingSet": "decayguard.training.contract",
    "WaitingForLabels": "decayguard.training.sets",
    "LineageCheck": "decayguard.training.inspect",
    "VersionSummary": "decayguard.training.inspect",
    "build_retraining_data": "decayguard.training.sets",
    "lineage_of": "decayguard.training.inspect",
    "model_versions": "decayguard.training.inspect",
    "verify_lineage": "decayguard.training.inspect",
    "load_train_function": "decayguard.training.contract",
    "rebuild_point_in_time_set": "decayguard.training.sets",
    "retrain_once": "decayguard.training.retrain",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
