"""Fixtures of the feedback suite: loan-default predictions in a real store."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from decayguard.store import PredictionRecord, insert_predictions

from .feedback_support import MakePredictions, loan_predictions


@pytest.fixture
def make_predictions(store_engine: Engine) -> MakePredictions:
    """Insert loan-default predictions into the store under test and return them."""

    def make(n: int, **kwargs: object) -> list[PredictionRecord]:
        records = loan_predictions(n, **kwargs)  # type: ignore[arg-type]
        insert_predictions(store_engine, records)
        return records

    return make
