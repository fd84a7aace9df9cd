"""The three things the simulated world can be asked to predict, one per model task.

Every target is drawn in every simulation (the same applicants, delays and onsets);
a :class:`LoanTarget` says how one of them is delivered and learned: its column, the
text of its labels, the training function that learns it, the simulated reviewer who
labels it and the per-row figure whose mean is its headline metric.

>>> sorted(TARGETS)
['binary', 'multiclass', 'regression']
>>> TARGETS["regression"].to_text(pd.Series([1234.5, 80.0])).tolist()
['1234.50', '80.00']
>>> TARGETS["multiclass"].classes
('A', 'B', 'C', 'D')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.pipeline import Pipeline

from decayguard.sim.population import GRADE_COLUMN, LABEL_COLUMN, LOSS_COLUMN, RISK_GRADES
from decayguard.sim.reviewer import ReviewAnswer, SimulatedReviewer, SimulatedValueReviewer
from decayguard.sim.training import train_grade_model, train_loss_model, train_model

FloatArray = npt.NDArray[np.float64]


class Reviewer(Protocol):
    """Answers one review request (see :class:`SimulatedReviewer`)."""

    def review(
        self, prediction_id: str, true_label: str, requested_at: datetime
    ) -> ReviewAnswer: ...


class LoanTarget(Protocol):
    """One target of the loan world, for one model task."""

    task: ClassVar[str]
    """``model.task`` of a model that predicts it."""
    column: ClassVar[str]
    """Its column in :attr:`Simulation.frame`, and the label column of training frames."""
    classes: ClassVar[tuple[str, ...]]
    """The label values of a classification target; empty for regression."""
    train_function: ClassVar[str]
    """Import path of its training function, for ``model.train_function``."""
    metric: ClassVar[str]
    """Its headline metric: the mean of :meth:`row_metric`."""

    def to_text(self, values: pd.Series) -> pd.Series:
        """The delivered label text of each true value (``"1"``, ``"1234.56"``, ``"B"``)."""
        ...

    def train(self, frame: pd.DataFrame) -> Pipeline:
        """Fit a model on a frame of the six features plus :attr:`column`."""
        ...

    def reviewer(self, seed: int) -> Reviewer:
        """The simulated human reviewer who labels this target."""
        ...

    def row_metric(self, truth: pd.Series, predicted: object) -> FloatArray:
        """One figure per row (correct: 1/0; absolute error) whose mean is :attr:`metric`."""
        ...


def _class_text(values: pd.Series) -> pd.Series:
    return values.astype(str).str.replace(r"\.0$", "", regex=True)


@dataclass(frozen=True, slots=True)
class _ClassTarget:
    """What the classification targets share: text labels, accuracy, a reviewer who picks
    a wrong class for an ``error_rate`` share of the answers."""

    error_rate: float = 0.03
    """Share of reviews answered with a wrong class."""

    classes: ClassVar[tuple[str, ...]] = ()
    metric: ClassVar[str] = "accuracy"

    def to_text(self, values: pd.Series) -> pd.Series:
        return _class_text(values)

    def reviewer(self, seed: int) -> Reviewer:
        return SimulatedReviewer(error_rate=self.error_rate, seed=seed, classes=self.classes)

    def row_metric(self, truth: pd.Series, predicted: object) -> FloatArray:
        guess = _class_text(pd.Series(np.asarray(predicted)).astype(str)).to_numpy()
        return np.asarray(self.to_text(truth).to_numpy() == guess, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class DefaultTarget(_ClassTarget):
    """Binary: ``default`` (``"0"``/``"1"``), learned by :func:`train_model`."""

    task: ClassVar[str] = "binary"
    column: ClassVar[str] = LABEL_COLUMN
    classes: ClassVar[tuple[str, ...]] = ("0", "1")
    train_function: ClassVar[str] = "decayguard.sim.training:train_model"

    def train(self, frame: pd.DataFrame) -> Pipeline:
        return train_model(frame)


@dataclass(frozen=True, slots=True)
class RiskGradeTarget(_ClassTarget):
    """Multiclass: ``risk_grade`` (``"A"``-``"D"``), learned by :func:`train_grade_model`."""

    task: ClassVar[str] = "multiclass"
    column: ClassVar[str] = GRADE_COLUMN
    classes: ClassVar[tuple[str, ...]] = RISK_GRADES
    train_function: ClassVar[str] = "decayguard.sim.training:train_grade_model"

    def train(self, frame: pd.DataFrame) -> Pipeline:
        return train_grade_model(frame)


@dataclass(frozen=True, slots=True)
class LossAmountTarget:
    """Regression: ``loss_amount`` (text with two decimals), learned by
    :func:`train_loss_model`; reviewers answer the true value with ``relative_noise``."""

    relative_noise: float = 0.02

    task: ClassVar[str] = "regression"
    column: ClassVar[str] = LOSS_COLUMN
    classes: ClassVar[tuple[str, ...]] = ()
    train_function: ClassVar[str] = "decayguard.sim.training:train_loss_model"
    metric: ClassVar[str] = "mae"

    def to_text(self, values: pd.Series) -> pd.Series:
        numbers = pd.to_numeric(values).to_numpy(dtype=np.float64)
        return pd.Series([f"{v:.2f}" for v in numbers], index=values.index, dtype=object)

    def train(self, frame: pd.DataFrame) -> Pipeline:
        return train_loss_model(frame)

    def reviewer(self, seed: int) -> Reviewer:
        return SimulatedValueReviewer(relative_noise=self.relative_noise, seed=seed)

    def row_metric(self, truth: pd.Series, predicted: object) -> FloatArray:
        guess = np.asarray(predicted, dtype=np.float64).reshape(-1)
        return np.asarray(np.abs(guess - truth.to_numpy(dtype=np.float64)), dtype=np.float64)


TARGETS: dict[str, LoanTarget] = {
    t.task: t for t in (DefaultTarget(), RiskGradeTarget(), LossAmountTarget())
}
"""The loan world's targets by ``model.task``."""
