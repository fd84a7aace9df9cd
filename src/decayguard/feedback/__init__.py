"""Ground truth and human review: label ingestion and joins, budgeted review sampling,
the review queue and weighted estimates from reviewed samples."""

from decayguard.feedback.sampling import (
    STRATEGIES,
    ReviewBudget,
    ReviewSampler,
    SamplingStrategy,
    StratifiedByClass,
    UncertaintyWeighted,
    Uniform,
)

__all__ = [
    "STRATEGIES",
    "ReviewBudget",
    "ReviewSampler",
    "SamplingStrategy",
    "StratifiedByClass",
    "UncertaintyWeighted",
    "Uniform",
]
