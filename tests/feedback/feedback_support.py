"""Loan-default predictions for the feedback suite (shared by its conftest and tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from decayguard.store import PredictionRecord

MODEL = "credit-default"
T0 = datetime(2026, 11, 2, tzinfo=UTC)
EMPLOYMENT = ("salaried", "self_employed", "unemployed", "retired")

MakePredictions = Callable[..., list[PredictionRecord]]


def loan_predictions(
    n: int,
    *,
    seed: int = 0,
    start: datetime = T0,
    step: timedelta = timedelta(minutes=1),
    sampled_every: int = 0,
    inclusion_prob: float | None = 0.2,
    prefix: str = "req",
) -> list[PredictionRecord]:
    """``n`` scored applicants, one per ``step``; every ``sampled_every``-th one is
    sampled for review (0: none)."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        score = float(rng.beta(1.2, 3.0))
        records.append(
            PredictionRecord(
                id=f"{prefix}-{i:05d}",
                ts=start + i * step,
                model_name=MODEL,
                model_version="3",
                arm="champion",
                inputs={
                    "income": round(float(rng.lognormal(10.5, 0.4)), 2),
                    "debt_ratio": round(float(rng.uniform(0, 1)), 3),
                    "age": float(rng.integers(21, 70)),
                    "credit_lines": float(rng.integers(0, 12)),
                    "utilization": round(float(rng.uniform(0, 1)), 3),
                    "employment": EMPLOYMENT[int(rng.integers(0, 4))],
                },
                outputs={"proba_0": 1 - score, "proba_1": score},
                prediction="1" if score >= 0.5 else "0",
                score=score,
                inclusion_prob=inclusion_prob,
                review_sampled=bool(sampled_every) and i % sampled_every == 0,
                entity_key=str(1000 + i),
            )
        )
    return records
