"""The demo's training function: the first champion, and every retrained challenger.

It has the project's training-function signature (``model.train_function`` in
``decayguard.yaml``): it takes a DataFrame with the feature columns and the
label column ``default`` and returns a fitted estimator with ``predict`` and
``predict_proba``. It is a plain scikit-learn :class:`~sklearn.pipeline.Pipeline`
(one-hot ``employment``, standardized numbers, logistic regression): it is
quick to fit, scores one row without spawning threads (tree ensembles with
OpenMP crawl on a busy two-core machine), gives calibrated probabilities
(which label-free performance estimation relies on), and the built-in
``mlserver_sklearn`` runtime can serve it as-is.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from decayguard.errors import InputValidationError
from decayguard.sim.population import (
    CATEGORICAL_FEATURES,
    EMPLOYMENT_LEVELS,
    FEATURE_NAMES,
    LABEL_COLUMN,
    NUMERIC_FEATURES,
)

_LABEL_VALUES = {"0": 0, "1": 1}


def _binary_labels(values: pd.Series) -> npt.NDArray[np.int64]:
    text = values.astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    text = text.replace({"True": "1", "False": "0", "true": "1", "false": "0"})
    unknown = sorted(set(text) - set(_LABEL_VALUES))
    if unknown:
        raise InputValidationError(
            LABEL_COLUMN, f"labels must be 0/1 (or '0'/'1'); got {unknown[:5]}"
        )
    return np.asarray(text.map(_LABEL_VALUES), dtype=np.int64)


def build_pipeline() -> Pipeline:
    """The unfitted champion pipeline: one-hot ``employment`` (unknown levels encode as all
    zeros), standardized numeric features, L2-regularized logistic regression."""
    encode = ColumnTransformer(
        [
            (
                "employment",
                OneHotEncoder(
                    categories=[list(EMPLOYMENT_LEVELS)],
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
                list(CATEGORICAL_FEATURES),
            ),
            ("numeric", StandardScaler(), list(NUMERIC_FEATURES)),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("encode", encode), ("classify", LogisticRegression(C=1.0, max_iter=1000))])


def train_model(frame: pd.DataFrame) -> Pipeline:
    """Fit the champion on ``frame`` (the six features plus ``default``; other columns are
    ignored, rows without a label are skipped). Labels may be ints, bools or the strings
    ``"0"``/``"1"``; the fitted model's ``classes_`` are ``[0, 1]``, so
    ``predict_proba(X)[:, 1]`` is P(default).
    """
    missing = [c for c in (*FEATURE_NAMES, LABEL_COLUMN) if c not in frame.columns]
    if missing:
        raise InputValidationError(missing[0], "column missing from the training frame")
    labelled = frame[frame[LABEL_COLUMN].notna()]
    y = _binary_labels(labelled[LABEL_COLUMN])
    if len(np.unique(y)) < 2:
        raise InputValidationError(LABEL_COLUMN, "training needs both classes")
    X = labelled[list(FEATURE_NAMES)].astype(dict.fromkeys(NUMERIC_FEATURES, np.float64))
    return build_pipeline().fit(X, y)
