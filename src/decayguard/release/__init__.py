"""Safe rollout: the release state machine, the rollout judge and the one deploy path.

``advance(cfg)`` (:mod:`decayguard.release.run`) is the core the release flow, the CLI and
the API call: it finishes what a crashed run left half done, then moves the model's
challenger one step along ``validated → shadow → canary → champion`` when the evidence says
so (or rolls it back). Every way a model
version goes into service (``decayguard serve deploy``, :func:`release_champion`, a promotion)
is a transition of :mod:`decayguard.release.stages` applied by
:mod:`decayguard.release.reconcile`.

Importing this package is cheap; each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Action": "decayguard.release.stages",
    "AdvanceOutcome": "decayguard.release.run",
    "IllegalTransition": "decayguard.release.stages",
    "JudgeVerdict": "decayguard.release.judge",
    "Release": "decayguard.release.champion",
    "RolloutJudge": "decayguard.release.judge",
    "Stage": "decayguard.release.stages",
    "advance": "decayguard.release.run",
    "deploy_exported": "decayguard.release.champion",
    "ReleaseStatus": "decayguard.release.manual",
    "promote": "decayguard.release.manual",
    "release_champion": "decayguard.release.champion",
    "release_history": "decayguard.release.manual",
    "release_status": "decayguard.release.manual",
    "rollback": "decayguard.release.manual",
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
