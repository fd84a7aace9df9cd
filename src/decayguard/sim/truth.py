"""The simulator's ground truth, for checking what the monitor estimates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from decayguard.sim.population import FEATURE_NAMES, LABEL_COLUMN
from decayguard.sim.targets import TARGETS


class Classifier(Protocol):
    def predict(self, X: pd.DataFrame) -> object: ...


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """True per-window performance of a model on a simulated frame.

    ``frame`` is :attr:`Simulation.frame` (or any slice of it): it needs
    ``request_id``, ``event_timestamp``, the features, ``default`` and
    ``p_default`` (and the target column for :meth:`performance_by_window`).
    """

    frame: pd.DataFrame

    def accuracy_by_window(self, model: Classifier, window: str = "1D") -> pd.DataFrame:
        """True accuracy of ``model`` per time window (pandas frequency string).

        Columns: ``window_start``, ``n``, ``accuracy`` (against the drawn outcomes),
        ``expected_accuracy`` (its expectation given the true probabilities, free
        of outcome noise), ``bayes_accuracy`` (the best any model could do) and
        ``positive_rate`` (share predicted ``1``).
        """
        predicted = np.asarray(model.predict(self.frame[list(FEATURE_NAMES)])).astype(str)
        return self.score_predictions(
            pd.Series(predicted, index=self.frame["request_id"].to_numpy()), window
        )

    def score_predictions(self, predictions: pd.Series, window: str = "1D") -> pd.DataFrame:
        """Like :meth:`accuracy_by_window` for logged predictions: a Series of predicted
        labels (``"0"``/``"1"`` or 0/1) indexed by request id; rows without a prediction
        are left out."""
        rows = self.frame[self.frame["request_id"].isin(predictions.index)]
        pred = predictions.loc[rows["request_id"]].astype(str).str.replace(r"\.0$", "", regex=True)
        positive = pred.to_numpy() == "1"
        truth = rows[LABEL_COLUMN].to_numpy() == 1
        p = rows["p_default"].to_numpy()
        scored = pd.DataFrame(
            {
                "window_start": rows["event_timestamp"].dt.floor(window).to_numpy(),
                "correct": positive == truth,
                "expected": np.where(positive, p, 1.0 - p),
                "bayes": np.maximum(p, 1.0 - p),
                "positive": positive,
            }
        )
        grouped = scored.groupby("window_start", sort=True)
        return pd.DataFrame(
            {
                "n": grouped.size(),
                "accuracy": grouped["correct"].mean(),
                "expected_accuracy": grouped["expected"].mean(),
                "bayes_accuracy": grouped["bayes"].mean(),
                "positive_rate": grouped["positive"].mean(),
            }
        ).reset_index()

    def performance_by_window(
        self, model: Classifier, task: str = "binary", window: str = "1D"
    ) -> pd.DataFrame:
        """True performance of ``model`` on ``task``'s target per time window: columns
        ``window_start``, ``n`` and the target's headline metric (``accuracy`` for the
        classification tasks, ``mae`` for regression), against the drawn values."""
        target = TARGETS[task]
        predicted = model.predict(self.frame[list(FEATURE_NAMES)])
        scored = pd.DataFrame(
            {
                "window_start": self.frame["event_timestamp"].dt.floor(window).to_numpy(),
                target.metric: target.row_metric(self.frame[target.column], predicted),
            }
        )
        grouped = scored.groupby("window_start", sort=True)[target.metric]
        return pd.DataFrame({"n": grouped.size(), target.metric: grouped.mean()}).reset_index()
