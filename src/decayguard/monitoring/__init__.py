"""decayguard.monitoring: drift, data quality and performance statistics (pure, no I/O).

A plain library: fit a :class:`ReferenceProfile` once, then per window call
:func:`detect_drift`, :func:`assess_data_quality`, :class:`ConfidenceBasedEstimator`,
:func:`realized_classification_metrics` and a decay rule. A :class:`ModelTask` (from
:func:`task_for`) picks the right estimator, realized metrics and prediction-drift test for a
binary, multiclass or regression model. See ``docs/monitoring.md``.
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
from decayguard.monitoring.direct_loss import DirectLossEstimator
from decayguard.monitoring.drift import DRIFT_METHODS, DriftMethod, drift_method
from decayguard.monitoring.errors import (
    MonitoringError,
    NotFittedError,
    ProfileError,
    SchemaMismatchError,
)
from decayguard.monitoring.estimation import (
    CALIBRATORS,
    ConfidenceBasedEstimator,
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
    realized_multiclass_metrics,
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
    MetricsReport,
    MonitoringResult,
    points_frame,
)
from decayguard.monitoring.tasks import (
    TASK_METRICS,
    TASKS,
    THRESHOLD_METRICS,
    BinaryTask,
    ModelOutputs,
    ModelTask,
    MulticlassTask,
    RegressionTask,
    task_for,
)
from decayguard.monitoring.window import WindowProfile

__all__ = [
    "CALIBRATORS",
    "CORRECTIONS",
    "DEFAULT_METHODS",
    "DRIFT_METHODS",
    "TASKS",
    "TASK_METRICS",
    "THRESHOLD_METRICS",
    "BinaryTask",
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
    "MetricsReport",
    "ModelOutputs",
    "ModelTask",
    "MonitoringError",
    "MonitoringResult",
    "MulticlassConfidenceBasedEstimator",
    "MulticlassTask",
    "MultipleTestingCorrection",
    "MultivariateDriftResult",
    "NotFittedError",
    "PCAReconstructionDrift",
    "PerformanceThresholdRule",
    "ProfileError",
    "ReferenceProfile",
    "RegressionTask",
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
    "points_frame",
    "prediction_frame",
    "realized_classification_metrics",
    "realized_multiclass_metrics",
    "realized_regression_metrics",
    "task_for",
    "wilson_interval",
]
