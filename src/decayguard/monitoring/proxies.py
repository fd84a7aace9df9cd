"""Label-free proxy signals besides univariate drift: data quality and one multivariate test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from decayguard.monitoring.errors import NotFittedError, ProfileError, SchemaMismatchError
from decayguard.monitoring.intervals import wilson_interval
from decayguard.monitoring.profile import CategoricalReference, NumericReference, ReferenceProfile
from decayguard.monitoring.results import (
    DataQualityReport,
    FeatureQuality,
    MetricEstimate,
    MetricPoint,
    _PointsFrame,
)
from decayguard.monitoring.window import CategoricalWindow, NumericWindow, WindowProfile

__all__ = ["MultivariateDriftResult", "PCAReconstructionDrift", "assess_data_quality"]


def _share(name: str, count: int, n: int, confidence: float) -> MetricEstimate:
    lower, upper = wilson_interval(count, max(n, 1), confidence)
    value = count / n if n else float("nan")
    return MetricEstimate(name, value, float(lower), float(upper), n, "wilson", confidence)


def assess_data_quality(
    reference: ReferenceProfile,
    current: pd.DataFrame | WindowProfile,
    *,
    tolerance: float = 0.01,
    confidence: float = 0.95,
) -> DataQualityReport:
    """Missing, out-of-range (numeric) and unseen-category (categorical) shares per feature.

    An issue is flagged only when the Wilson *lower* bound of the window's share exceeds the
    reference's share plus ``tolerance``: evidence, not noise. Out of range means outside the
    reference's [min, max]; unseen means not among the profiled reference categories.
    """
    window = (
        current
        if isinstance(current, WindowProfile)
        else WindowProfile.from_frame(reference, current)
    )
    features = []
    for name, ref in reference.features_.items():
        win = window.features[name]
        total = win.n + win.n_missing
        ref_missing = ref.n_missing / max(ref.n + ref.n_missing, 1)
        missing = _share("missing_share", win.n_missing, total, confidence)
        issues = []
        if missing.lower > ref_missing + tolerance:
            issues.append(
                f"missing_share {missing.value:.3g} > reference {ref_missing:.3g} + {tolerance:g}"
            )
        out_of_range = unseen = None
        ref_unseen = 0.0
        if isinstance(ref, NumericReference) and isinstance(win, NumericWindow):
            outside = int(win.counts[0] + win.counts[-1])
            out_of_range = _share("out_of_range_share", outside, win.n, confidence)
            if out_of_range.lower > tolerance:
                issues.append(f"out_of_range_share {out_of_range.value:.3g} > {tolerance:g}")
        elif isinstance(ref, CategoricalReference) and isinstance(win, CategoricalWindow):
            ref_unseen = float(ref.counts[-1] / max(ref.n, 1))
            unseen = _share("unseen_share", int(win.counts[-1]), win.n, confidence)
            if unseen.lower > ref_unseen + tolerance:
                issues.append(
                    f"unseen_share {unseen.value:.3g} > reference {ref_unseen:.3g} + {tolerance:g}"
                )
        features.append(
            FeatureQuality(
                name, missing, ref_missing, out_of_range, unseen, ref_unseen, tuple(issues)
            )
        )
    return DataQualityReport(tuple(features))


@dataclass(frozen=True)
class MultivariateDriftResult(_PointsFrame):
    """Mean PCA reconstruction error of a window against the reference's.

    Its one point, ``multivariate.pca_error``, carries the flag and the reason.
    """

    statistic: float
    reference_mean: float
    p_value: float
    effect_size: float
    threshold: float
    drifted: bool
    n: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def to_points(self) -> list[MetricPoint]:
        return [
            MetricPoint(
                "multivariate.pca_error",
                _finite(self.statistic),
                flagged=self.drifted,
                reason=self.reason,
            )
        ]


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


class PCAReconstructionDrift:
    """Multivariate drift from PCA reconstruction error (NannyML's data-reconstruction idea).

    Fit standardises the reference's numeric columns (missing values imputed with the reference
    mean) and keeps the principal components explaining ``variance`` of the variance. A window
    whose rows no longer follow the reference's correlation structure reconstructs worse. The
    window's mean error is compared with the reference's by a one-sided z-test and flagged when
    ``p < alpha`` **and** the relative increase reaches ``threshold``.
    """

    def __init__(
        self,
        columns: Sequence[str],
        variance: float = 0.65,
        alpha: float = 0.05,
        threshold: float = 0.1,
    ) -> None:
        self.columns = columns
        self.variance = variance
        self.alpha = alpha
        self.threshold = threshold

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise NotFittedError(
                "PCAReconstructionDrift is not fitted: call fit(reference) or from_dict first"
            )

    def _errors(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise SchemaMismatchError(f"data has no column(s) {absent}")
        x = frame[list(self.columns)].to_numpy(dtype=np.float64, na_value=np.nan)
        x = np.where(np.isfinite(x), x, self.mean_)
        z = (x - self.mean_) / self.scale_
        reconstructed = (z @ self.components_.T) @ self.components_
        return np.asarray(np.sqrt(np.sum((z - reconstructed) ** 2, axis=1)), dtype=np.float64)

    def fit(self, frame: pd.DataFrame) -> Self:
        x = frame[list(self.columns)].to_numpy(dtype=np.float64, na_value=np.nan)
        if x.shape[0] < 2:
            raise ProfileError("PCA reconstruction drift needs at least two reference rows")
        self.mean_ = np.nanmean(x, axis=0)
        x = np.where(np.isfinite(x), x, self.mean_)
        self.scale_ = np.maximum(x.std(axis=0), 1e-12)
        z = (x - self.mean_) / self.scale_
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        explained = np.cumsum(singular**2) / np.sum(singular**2)
        k = int(np.searchsorted(explained, self.variance) + 1)
        self.components_ = vt[:k]
        errors = self._errors(frame)
        self.reference_mean_ = float(errors.mean())
        self.reference_std_ = float(errors.std(ddof=1))
        self.n_reference_ = int(errors.size)
        return self

    def detect(self, frame: pd.DataFrame) -> MultivariateDriftResult:
        self._check_fitted()
        errors = self._errors(frame)
        mean = float(errors.mean())
        se = self.reference_std_ * np.sqrt(1 / errors.size + 1 / self.n_reference_)
        p = float(stats.norm.sf((mean - self.reference_mean_) / max(se, 1e-12)))
        effect = mean / self.reference_mean_ - 1
        drifted = p < self.alpha and effect >= self.threshold
        reason = (
            f"{'drifted' if drifted else 'not drifted'}: mean reconstruction error {mean:.4g} "
            f"vs reference {self.reference_mean_:.4g} ({effect:+.1%}, threshold "
            f"{self.threshold:.0%}), one-sided p={p:.3g}"
        )
        return MultivariateDriftResult(
            mean, self.reference_mean_, p, effect, self.threshold, drifted, errors.size, reason
        )

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "columns": list(self.columns),
            "variance": self.variance,
            "alpha": self.alpha,
            "threshold": self.threshold,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "components": self.components_.tolist(),
            "reference_mean": self.reference_mean_,
            "reference_std": self.reference_std_,
            "n_reference": self.n_reference_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PCAReconstructionDrift:
        model = cls(data["columns"], data["variance"], data["alpha"], data["threshold"])
        model.mean_ = np.asarray(data["mean"], dtype=np.float64)
        model.scale_ = np.asarray(data["scale"], dtype=np.float64)
        model.components_ = np.asarray(data["components"], dtype=np.float64)
        model.reference_mean_ = float(data["reference_mean"])
        model.reference_std_ = float(data["reference_std"])
        model.n_reference_ = int(data["n_reference"])
        return model
