"""Both arms on the same requests: paired outcomes for the rollout judge.

CONTRACT (filled in by the monitoring helper).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from decayguard.monitoring.task_base import ModelOutputs, ModelTask


@dataclass(frozen=True)
class PairedOutcomes:
    """Requests both versions scored whose truth is known, in the order the truth arrived."""

    frame: pd.DataFrame
    """One row per request: ``prediction_id`` (the answered one), ``ts``, ``known_at``,
    ``source`` (``label`` or ``review``), ``y_true``, ``weight`` (1 for labels; for reviews
    ``mean(p) / p`` of their inclusion probability ``p``: the reviewed stream's mean of
    ``weight * d`` is the traffic's mean of ``d``), ``answered_by`` (the version that
    answered)."""
    champion: ModelOutputs
    challenger: ModelOutputs

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def y_true(self) -> NDArray[np.object_]:
        return self.frame["y_true"].to_numpy(dtype=object)

    @property
    def weights(self) -> NDArray[np.float64]:
        return self.frame["weight"].to_numpy(dtype=np.float64)


def paired_outcomes(
    engine: Engine,
    model_name: str,
    champion_version: str,
    challenger_version: str,
    start: datetime,
    as_of: datetime,
    *,
    task: ModelTask,
    use_reviews: bool = True,
) -> PairedOutcomes:
    """Requests since ``start`` scored by both versions (one answered, the other silently,
    joined by ``paired_id``) with a label received, or a review written, by ``as_of``; a
    request with both counts once, by its label."""
    raise NotImplementedError
