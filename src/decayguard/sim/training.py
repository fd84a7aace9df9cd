"""The demo's training function: the first champion, and every retrained challenger.

It has the project's training-function signature (``model.train_function`` in
``decayguard.yaml``): it takes a DataFrame with the feature columns and the
label column ``default`` and returns a fitted estimator with ``predict`` and
``predict_proba``. It is a plain scikit-learn :class:`~sklearn.pipeline.Pipeline`
(one-hot ``employment``, gradient-boosted trees), so the built-in
``mlserver_sklearn`` runtime can serve it too, and it fits a few thousand rows
in about a second on two cores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from decayguard.errors import InputValidationError
from decayguard.sim.population import (
    CATEGORICAL_FEATURES,
    EMPLOYMENT_LEVELS,
    FEATURE_NAMES,
    LABEL_COLUMN,
    NUMERIC_FEATURES,
)

_LABEL_VALUES = {"0": 0, "1": 1}


def _binary_labels(values: pd.Series) -> np.ndarray:
    text = values.astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    text = text.replace({"True": "1", "False": "0", "true": "1", "false": "0"})
    unknown = sorted(set(text) - set(_LABEL_VALUES))
    if unknown:
        raise InputValidationError(
            LABEL_COLUMN, f"labels must be 0/1 (or '0'/'1'); got {unknown[:5]}"
        )
    return text.map(_LABEL_VALUES).to_numpy(dtype=np.int64)


def build_pipeline(seed: int = 0) -> Pipeline:
    """The unfitted champion pipeline: one-hot ``employment``, then gradient-boosted trees."""
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
            ("numeric", "passthrough", list(NUMERIC_FEATURES)),
        ],
        verbose_feature_names_out=False,
    )
    trees = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.08,
        max_leaf_nodes=15,
        min_samples_leaf=30,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    return Pipeline([("encode", encode), ("trees", trees)])


def train_model(frame: pd.DataFrame) -> Pipeline:
    """Fit the champion on ``frame`` (the six features plus ``default``; other columns are
    ignored). Labels may be ints, bools or the strings ``"0"``/``"1"``; the fitted
    model's ``classes_`` are ``[0, 1]``, so ``predict_proba(X)[:, 1]`` is P(default).
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
