"""decayguard.monitoring: drift, data quality and performance statistics (pure, no I/O).

A plain library: fit a :class:`ReferenceProfile` once, then per window call
:func:`detect_drift`, :func:`assess_data_quality`, :class:`ConfidenceBasedEstimator`,
:func:`realized_classification_metrics` and a decay rule. See ``docs/monitoring.md``.
"""

from decayguard.monitoring.decision import (
    CORRECTIONS,
    CusumDecayTest,
    DriftDecisionRule,
    MultipleTestingCorrection,
    PerformanceThresholdRule,
    correction,
)
from decayguard.monitoring.detection import (
    DEFAULT_METHODS,
    detect_drift,
    detect_prediction_drift,
    fit_prediction_profile,
    prediction_frame,
)
from decayguard.monitoring.drift import DRIFT_METHODS, DriftMethod, drift_method
from decayguard.monitoring.errors import MonitoringError, ProfileError, SchemaMismatchError
from decayguard.monitoring.estimation import (
    CALIBRATORS,
    ConfidenceBasedEstimator,
    DirectLossEstimator,
    expected_classification_metrics,
)
from decayguard.monitoring.intervals import (
    hajek_mean,
    horvitz_thompson_mean,
    wilson_interval,
)
from decayguard.monitoring.multiclass import MulticlassConfidenceBasedEstimator
from decayguard.monitoring.profile import ReferenceProfile
from decayguard.monitoring.proxies import (
    MultivariateDriftResult,
    PCAReconstructionDrift,
    assess_data_quality,
)
from decayguard.monitoring.realized import (
    realized_classification_metrics,
    realized_regression_metrics,
)
from decayguard.monitoring.results import (
    DataQualityReport,
    DecayDecision,
    DriftReport,
    DriftTestResult,
    FeatureDrift,
    FeatureQuality,
    MetricEstimate,
    MetricPoint,
)
from decayguard.monitoring.window import WindowProfile

__all__ = [
    "CALIBRATORS",
    "CORRECTIONS",
    "DEFAULT_METHODS",
    "DRIFT_METHODS",
    "ConfidenceBasedEstimator",
    "CusumDecayTest",
    "DataQualityReport",
    "DecayDecision",
    "DirectLossEstimator",
    "DriftDecisionRule",
    "DriftMethod",
    "DriftReport",
    "DriftTestResult",
    "FeatureDrift",
    "FeatureQuality",
    "MetricEstimate",
    "MetricPoint",
    "MonitoringError",
    "MulticlassConfidenceBasedEstimator",
    "MultipleTestingCorrection",
    "MultivariateDriftResult",
    "PCAReconstructionDrift",
    "PerformanceThresholdRule",
    "ProfileError",
    "ReferenceProfile",
    "SchemaMismatchError",
    "WindowProfile",
    "assess_data_quality",
    "correction",
    "detect_drift",
    "detect_prediction_drift",
    "drift_method",
    "expected_classification_metrics",
    "fit_prediction_profile",
    "hajek_mean",
    "horvitz_thompson_mean",
    "prediction_frame",
    "realized_classification_metrics",
    "realized_regression_metrics",
    "wilson_interval",
]
