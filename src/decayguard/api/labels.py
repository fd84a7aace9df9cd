"""``/api/v1/labels``: deliver ground truth, read a prediction's label and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from decayguard.api.auth import ReadAccess, WriteAccess
from decayguard.api.deps import ConfigDep, EngineDep, RulesDep
from decayguard.feedback.labels import (
    LabelColumns,
    import_labels,
    label_records_from_rows,
    storable_text,
)
from decayguard.store import get_prediction, label_history
from decayguard.store.schema import labels as label_table

router = APIRouter(prefix="/api/v1/labels", tags=["labels"])


def _scalar_text(value: Any) -> Any:
    """Numbers become text (``1`` -> ``"1"``); anything else is left for ``str`` to judge."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return value


TextOrNumber = Annotated[str, BeforeValidator(_scalar_text)]


class LabelIn(BaseModel):
    """One ground-truth label: by prediction id, or by entity key and event time.

    A label with neither gets a 422 naming ``labels[i].prediction_id``."""

    model_config = ConfigDict(extra="forbid")

    value: TextOrNumber = Field(min_length=1, max_length=200)
    """The true label: a class name for a classifier (``"1"``, ``1`` and ``1.0`` are the
    same class), a finite number for a regressor."""
    prediction_id: str | None = Field(default=None, min_length=1, max_length=64)
    """Id of the prediction this label is the truth for."""
    entity_key: TextOrNumber | None = Field(default=None, min_length=1, max_length=200)
    """Entity the label is about, for systems that keep no prediction ids."""
    event_time: datetime | None = None
    """When the labeled event happened (joined to the entity's latest prediction before it)."""
    model_name: str | None = Field(default=None, min_length=1, max_length=200)
    """Model the label is for (default: the project's model)."""


class LabelBatchIn(BaseModel):
    """A delivery of labels. Re-delivering the same labels is harmless."""

    model_config = ConfigDict(extra="forbid")

    labels: list[LabelIn] = Field(min_length=1, max_length=100_000)
    source: str = Field(default="api", min_length=1, max_length=100)
    """Where the labels come from (kept with each label)."""


class LabelReportOut(BaseModel):
    """What happened to every delivered label; nothing is dropped silently."""

    received: int
    stored: int
    inserted: int
    corrected: int
    duplicates: list[str]
    repeated_in_delivery: list[str]
    unknown_prediction_ids: list[str]
    unmatched_entity_labels: list[str]


class LabelVersionOut(BaseModel):
    value: str
    source: str
    received_at: datetime
    superseded_at: datetime | None


class PredictionLabelOut(BaseModel):
    prediction_id: str
    current: str | None
    history: list[LabelVersionOut]


@router.post(
    "",
    dependencies=[WriteAccess],
    response_model=LabelReportOut,
    summary="Deliver ground-truth labels",
)
def post_labels(
    batch: LabelBatchIn, request: Request, config: ConfigDep, engine: EngineDep, rules: RulesDep
) -> dict[str, Any]:
    """Store labels, joined by prediction id or by entity key and event time.

    Each value is checked for the model's task: a regression label must be a finite
    number (``12.5`` or ``"12.5"``), a classifier's one of its known classes (the
    configured ``feedback.label_values``, else the serving champion's classes, else
    ``0``/``1``). A delivery with a bad label is refused whole with a 422 naming the
    first bad ones (``labels[3].value``) and the value; none of its labels is stored.

    The answer accounts for every label: inserted, corrected (the new value wins and the
    old one is kept as history), duplicates (same value again: no change), repeated
    within this delivery (the last one counts), unknown prediction ids (not stored) and
    entity labels with no matching prediction yet (stored, joined later).
    """
    rows = [label.model_dump(exclude_none=True) for label in batch.labels]
    records = label_records_from_rows(
        rows,
        model_name=config.model.name,
        columns=LabelColumns(value="value"),
        source=batch.source,
        where="labels[{index}]",
        rules=rules,
    )
    # One delivery at a time per API process: the store's read-then-write of a label key
    # has no unique constraint to settle two concurrent deliveries of the same key.
    with request.app.state.label_lock:
        return import_labels(engine, records).to_dict()


@router.get(
    "/{prediction_id}",
    dependencies=[ReadAccess],
    response_model=PredictionLabelOut,
    summary="A prediction's current label and its history",
)
def get_label(prediction_id: str, config: ConfigDep, engine: EngineDep) -> dict[str, Any]:
    """The label delivered for a prediction id, with every earlier value, oldest first."""
    storable_text(prediction_id, "prediction_id", label_table.c.prediction_id)
    prediction = get_prediction(engine, prediction_id)
    if prediction is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"unknown prediction id {prediction_id!r}"
        )
    history = label_history(engine, prediction["model_name"], f"p:{prediction_id}")
    versions = [
        {k: (None if v is pd.NaT or v is None else v) for k, v in row.items()}
        for row in history.astype(object).to_dict(orient="records")
    ]
    current = next((v["value"] for v in versions if v["superseded_at"] is None), None)
    return {"prediction_id": prediction_id, "current": current, "history": versions}
