"""The drift entry points: :func:`detect_drift` and prediction-distribution drift.

:func:`fit_prediction_profile` and :func:`detect_prediction_drift` describe a *classifier's*
outputs (predicted class shares and scores). For any task, use the task's own
:meth:`~decayguard.monitoring.tasks.ModelTask.detect_prediction_drift` (a regressor's predicted
value is profiled as a numeric feature).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from decayguard.monitoring.decision import DriftDecisionRule
from decayguard.monitoring.drift import DriftMethod, drift_method
from decayguard.monitoring.errors import ProfileError
from decayguard.monitoring.profile import ReferenceProfile
from decayguard.monitoring.results import PREDICTION_DRIFT, DriftReport, DriftTestResult
from decayguard.monitoring.window import WindowProfile

__all__ = [
    "DEFAULT_METHODS",
    "detect_drift",
    "detect_prediction_drift",
    "fit_prediction_profile",
    "prediction_frame",
]

DEFAULT_METHODS = ("ks", "chi2", "psi", "jensen_shannon", "hellinger", "wasserstein")


def detect_drift(
    reference: ReferenceProfile,
    current: pd.DataFrame | WindowProfile,
    *,
    rule: DriftDecisionRule | None = None,
    methods: Sequence[str | DriftMethod] = DEFAULT_METHODS,
) -> DriftReport:
    """Every drift method on every reference feature, then the decision rule.

    ``current`` is a DataFrame with the reference's columns, or a (possibly merged)
    :class:`WindowProfile` of the same reference. Methods the rule needs are always computed.

    >>> rng = np.random.default_rng(0)
    >>> reference = ReferenceProfile().fit(pd.DataFrame({"x": rng.normal(size=5000)}))
    >>> detect_drift(reference, pd.DataFrame({"x": rng.normal(1.0, 1.0, 500)})).drifted_features
    ['x']
    """
    rule = rule or DriftDecisionRule()
    window = (
        current
        if isinstance(current, WindowProfile)
        else WindowProfile.from_frame(reference, current)
    )
    if window.reference_fingerprint != reference.fingerprint:
        raise ProfileError("the window profile was built against another reference profile")
    instances = [drift_method(m) if isinstance(m, str) else m for m in methods]
    present = {m.name for m in instances}
    instances += [drift_method(name) for name in sorted(rule.required_methods() - present)]
    results: dict[str, list[DriftTestResult]] = {}
    kinds: dict[str, str] = {}
    for name, feature in reference.features_.items():
        kinds[name] = feature.kind
        current_feature = window.features[name]
        results[name] = [
            m.compute(feature, current_feature) for m in instances if m.applies_to(feature)
        ]
    return DriftReport(
        features=rule.decide(kinds, results),
        alpha=rule.alpha,
        correction=rule.correction,
        n_current=window.n_rows,
        n_reference=reference.n_rows_,
    )


def prediction_frame(predicted_class: ArrayLike, scores: ArrayLike | None = None) -> pd.DataFrame:
    """Predictions as a frame: ``predicted_class`` (text) and ``score`` or ``score_<k>``."""
    frame = pd.DataFrame({"predicted_class": pd.Series(np.asarray(predicted_class)).astype(str)})
    if scores is not None:
        values = np.asarray(scores, dtype=np.float64)
        if values.ndim == 1:
            frame["score"] = values
        else:
            for k in range(values.shape[1]):
                frame[f"score_{k}"] = values[:, k]
    return frame


def fit_prediction_profile(
    predicted_class: ArrayLike, scores: ArrayLike | None = None, *, sketch_size: int = 4096
) -> ReferenceProfile:
    """A reference profile of a classifier's outputs: predicted-class shares and scores."""
    frame = prediction_frame(predicted_class, scores)
    numeric = [c for c in frame.columns if c != "predicted_class"]
    return ReferenceProfile(
        numeric=numeric, categorical=["predicted_class"], sketch_size=sketch_size
    ).fit(frame)


def detect_prediction_drift(
    reference: ReferenceProfile,
    predicted_class: ArrayLike,
    scores: ArrayLike | None = None,
    *,
    rule: DriftDecisionRule | None = None,
) -> DriftReport:
    """Drift of a classifier's prediction distribution (a spam share jumping from 30% to 75%
    alarms); points named ``prediction_drift.<method>``.

    >>> rng = np.random.default_rng(1)
    >>> reference = fit_prediction_profile(rng.random(10_000) < 0.30)
    >>> detect_prediction_drift(reference, rng.random(500) < 0.75).drifted_features
    ['predicted_class']
    """
    report = detect_drift(reference, prediction_frame(predicted_class, scores), rule=rule)
    return replace(report, prefix=PREDICTION_DRIFT)
