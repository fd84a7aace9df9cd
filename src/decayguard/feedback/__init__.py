"""Ground truth and human review: label ingestion and joins, budgeted review sampling,
the review queue, and performance from reviews (weighted) and from labels (per window).

The names below are loaded on first use, so that ``import decayguard.feedback.sampling``
in the serving runtime stays numpy-only (the rest needs the store, pandas and scipy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decayguard.feedback.estimates import (
        ReviewedPerformance,
        estimate_reviewed_metrics,
        reviewed_performance,
    )
    from decayguard.feedback.label_rules import LabelRules
    from decayguard.feedback.labels import (
        LabelColumns,
        LabelImportReport,
        import_labels,
        label_records_from_frame,
        label_records_from_rows,
        read_label_file,
    )
    from decayguard.feedback.realized import RealizedWindow, realized_performance
    from decayguard.feedback.review import (
        PredictionNotFound,
        ReviewItem,
        ReviewLeases,
        ReviewQueue,
        default_label_values,
    )
    from decayguard.feedback.sampling import (
        STRATEGIES,
        ReviewBudget,
        ReviewSampler,
        SamplingStrategy,
        StratifiedByClass,
        UncertaintyWeighted,
        Uniform,
    )

_EXPORTS = {
    "LabelColumns": "decayguard.feedback.labels",
    "LabelImportReport": "decayguard.feedback.labels",
    "LabelRules": "decayguard.feedback.label_rules",
    "PredictionNotFound": "decayguard.feedback.review",
    "RealizedWindow": "decayguard.feedback.realized",
    "ReviewBudget": "decayguard.feedback.sampling",
    "ReviewItem": "decayguard.feedback.review",
    "ReviewLeases": "decayguard.feedback.review",
    "ReviewQueue": "decayguard.feedback.review",
    "ReviewSampler": "decayguard.feedback.sampling",
    "ReviewedPerformance": "decayguard.feedback.estimates",
    "STRATEGIES": "decayguard.feedback.sampling",
    "SamplingStrategy": "decayguard.feedback.sampling",
    "StratifiedByClass": "decayguard.feedback.sampling",
    "UncertaintyWeighted": "decayguard.feedback.sampling",
    "Uniform": "decayguard.feedback.sampling",
    "default_label_values": "decayguard.feedback.review",
    "estimate_reviewed_metrics": "decayguard.feedback.estimates",
    "import_labels": "decayguard.feedback.labels",
    "label_records_from_frame": "decayguard.feedback.labels",
    "label_records_from_rows": "decayguard.feedback.labels",
    "read_label_file": "decayguard.feedback.labels",
    "realized_performance": "decayguard.feedback.realized",
    "reviewed_performance": "decayguard.feedback.estimates",
}

__all__ = [
    "STRATEGIES",
    "LabelColumns",
    "LabelImportReport",
    "LabelRules",
    "PredictionNotFound",
    "RealizedWindow",
    "ReviewBudget",
    "ReviewItem",
    "ReviewLeases",
    "ReviewQueue",
    "ReviewSampler",
    "ReviewedPerformance",
    "SamplingStrategy",
    "StratifiedByClass",
    "UncertaintyWeighted",
    "Uniform",
    "default_label_values",
    "estimate_reviewed_metrics",
    "import_labels",
    "label_records_from_frame",
    "label_records_from_rows",
    "read_label_file",
    "realized_performance",
    "reviewed_performance",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
