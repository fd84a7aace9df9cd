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
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from decayguard.errors import InputValidationError
from decayguard.sim.population import (
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


class LoanFeatureEncoder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """One-hot ``employment`` (an unknown level encodes as all zeros) and standardize the
    numeric features, straight from a DataFrame to one float matrix.

    It does what a ``ColumnTransformer`` of a ``OneHotEncoder`` and a ``StandardScaler``
    does, for a fraction of the per-call cost on one row, which is what the serving path
    scores: a one-row ``predict_proba`` of the whole pipeline measured 0.24-0.6 ms against
    2.3-5.1 ms with the ``ColumnTransformer`` (4-15x, on this busy 2-core machine).
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> LoanFeatureEncoder:
        numeric = _numeric_matrix(X)
        self.mean_ = numeric.mean(axis=0)
        scale = numeric.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.n_features_in_ = len(FEATURE_NAMES)
        self.feature_names_in_ = np.asarray(FEATURE_NAMES, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        numeric = (_numeric_matrix(X) - self.mean_) / self.scale_
        if "employment" not in X:
            raise InputValidationError("employment", "column missing")
        employment = np.asarray(X["employment"], dtype=object)[:, None]
        one_hot = (employment == np.asarray(EMPLOYMENT_LEVELS, dtype=object)).astype(np.float64)
        return np.hstack([one_hot, numeric])

    def get_feature_names_out(self, input_features: object = None) -> npt.NDArray[np.object_]:
        names = [f"employment_{level}" for level in EMPLOYMENT_LEVELS]
        return np.asarray([*names, *NUMERIC_FEATURES], dtype=object)


def _numeric_matrix(X: pd.DataFrame) -> npt.NDArray[np.float64]:
    missing = [c for c in NUMERIC_FEATURES if c not in X]
    if missing:
        raise InputValidationError(missing[0], "column missing")
    # Column by column: selecting a sub-DataFrame first costs more than the arithmetic.
    return np.column_stack([np.asarray(X[c], dtype=np.float64) for c in NUMERIC_FEATURES])


def build_pipeline() -> Pipeline:
    """The unfitted champion pipeline: :class:`LoanFeatureEncoder`, then L2-regularized
    logistic regression."""
    return Pipeline(
        [("encode", LoanFeatureEncoder()), ("classify", LogisticRegression(C=1.0, max_iter=1000))]
    )


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
