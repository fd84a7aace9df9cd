"""The training-function contract: what the user's ``model.train_function`` receives.

decayguard builds a point-in-time-correct :class:`TrainingSet` and calls the function named
by ``model.train_function`` (``package.module:function``) with it; the function returns a
fitted scikit-learn estimator or pipeline, or a LightGBM model::

    def train(training: TrainingSet):
        model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
        return model.fit(training.features, training.labels, sample_weight=training.sample_weight)

``training.features`` holds exactly the model's input columns (``model.features``, in order),
``training.labels`` the matured ground truth (class names as text for classifiers, floats
for regression), ``training.sample_weight`` the recency weights of a ``recency_weighted``
window (``None`` otherwise), and ``training.metadata`` the window, the lineage hash and the
label counts. The rows of the holdout (``training.holdout_days``) are never in it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from decayguard.errors import ConfigError

TrainFunction = Callable[["TrainingSet"], Any]


@dataclass(frozen=True)
class TrainingMetadata:
    """Where a training set came from; JSON round-trips through :meth:`to_dict`."""

    model_name: str
    """The model being retrained."""
    task: str
    """``binary``, ``multiclass`` or ``regression``."""
    target: str
    """Name of the label column (``model.target``)."""
    lineage_hash: str
    """SHA-256 of the whole point-in-time frame (training rows and holdout rows): what
    ``decayguard lineage --verify`` rebuilds."""
    window: dict[str, Any]
    """The data window (``features.training_window``) and its parameters."""
    window_start: str | None
    """Earliest label time admitted (ISO 8601, UTC); ``None``: all history."""
    window_end: str
    """Latest label time admitted: labels after it had not matured (ISO 8601, UTC)."""
    holdout_start: str
    """Labels at or after this time are the holdout, not in the training set."""
    labels_as_of: str
    """The store's labels as they stood at this time were used (later corrections are not)."""
    label_counts: dict[str, int]
    """Training rows per class (classifiers) or ``{"rows": n}`` (regression)."""
    holdout_rows: int
    """Rows held out for the gate."""
    feature_refs: list[str] = field(default_factory=list)
    """Feast feature references, ``view:feature``."""
    feature_service: str | None = None
    """The Feast feature service the features came from."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingSet:
    """What the user's training function receives."""

    features: pd.DataFrame
    """The model's input columns, in ``model.features`` order, one row per matured label."""
    labels: pd.Series
    """The ground truth aligned with :attr:`features`."""
    sample_weight: pd.Series | None
    """Recency weights (``features.training_window: recency_weighted``), else ``None``."""
    metadata: TrainingMetadata
    """The window, the lineage hash and the label counts."""

    @property
    def frame(self) -> pd.DataFrame:
        """Features and the label column (``metadata.target``) in one frame."""
        return self.features.assign(**{self.metadata.target: self.labels.to_numpy()})

    def __len__(self) -> int:
        return len(self.features)


def load_train_function(spec: str | None, project_root: Path, *, source: str) -> TrainFunction:
    """Import ``package.module:function``; modules are searched in ``project_root`` first.

    ``source`` names the config file for the error message. Raises :class:`ConfigError`
    naming ``model.train_function`` when it is missing, malformed or does not import.
    """
    key = f"{source}: model.train_function"
    if not spec:
        raise ConfigError(f"{key}: not set; name your training function, e.g. train:train_model")
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{key}: {spec!r} is not of the form package.module:function")
    root = str(project_root.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(f"{key}: cannot import {module_name!r}: {exc}") from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConfigError(f"{key}: {module_name!r} has no function {attribute!r}")
    return function  # type: ignore[no-any-return]
