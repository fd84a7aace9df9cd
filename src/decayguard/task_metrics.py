"""Metric names per model task: a light table that the config validates against.

It lives outside :mod:`decayguard.monitoring` so that loading a config imports no numpy,
scipy or scikit-learn; :mod:`decayguard.monitoring.tasks` re-exports it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["TASK_METRICS", "THRESHOLD_METRICS"]

_CLASSIFICATION: Final = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
_ERROR_QUANTILES: Final = tuple(f"error_q{q:02d}" for q in (5, 25, 50, 75, 95))

TASK_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "binary": _CLASSIFICATION,
    "multiclass": _CLASSIFICATION,
    "regression": ("mae", "rmse", "mape", "mean_error", *_ERROR_QUANTILES),
}
"""Realized metrics each task reports. Multiclass precision, recall and F1 are macro averages,
its ROC AUC the macro one-vs-rest AUC."""

THRESHOLD_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "binary": _CLASSIFICATION,
    "multiclass": _CLASSIFICATION,
    "regression": ("mae", "rmse", "mape"),
}
"""Metrics a ``monitoring.performance_thresholds`` key may name, per task (those with a
direction: higher is better, or lower is better for losses)."""
