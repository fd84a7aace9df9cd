"""Direct loss estimation (DLE): a regressor's MAE and RMSE without labels.

On labelled reference data, LightGBM learns the expected absolute error and the expected squared
error from the features and the prediction; on a window, the mean predicted loss is the
estimated MAE (and the root of the mean predicted squared error the estimated RMSE). Like CBPE
it assumes the error's relation to the inputs is unchanged (covariate shift, not concept shift).

Features may be numeric, boolean, strings or pandas categories, with missing values. Each
non-numeric column gets a category list pinned at ``fit`` (its ``max_categories`` most frequent
values); rarer values and values unseen at fit time share one "other" code, missing values stay
missing, and LightGBM splits on them natively.

The interval has two parts, added as variances:

* the window's sampling noise: the realized mean loss scatters around its conditional
  expectation with variance ``Σ v(x_i) / n²``, where ``v`` is a second model of the squared
  out-of-fold residual (so a window in a noisier region gets a wider interval);
* the loss model's own error from a finite reference: the estimate is the average of
  ``n_folds`` models, each fitted with one fold held out, and their spread on the window gives
  a delete-a-group jackknife variance.

Everything fitted is plain text and numbers (``Booster.model_to_string``): ``to_dict`` is
JSON-serialisable, with no pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from decayguard.monitoring.errors import MonitoringError, NotFittedError, SchemaMismatchError
from decayguard.monitoring.intervals import z_value
from decayguard.monitoring.results import MetricEstimate, MetricsReport

__all__ = ["DLE_METRICS", "DirectLossEstimator", "FeatureEncoder"]

Floats = NDArray[np.float64]
#: metric name -> the per-row loss that the model learns (RMSE is rooted after averaging)
DLE_METRICS = ("mae", "rmse")
PREDICTION = "__prediction__"


def _row_loss(metric: str, error: Floats) -> Floats:
    return np.abs(error) if metric == "mae" else error**2


def _is_numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return bool(pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype))


class FeatureEncoder:
    """Turns a DataFrame into a float matrix for LightGBM with pinned category codes.

    >>> enc = FeatureEncoder().fit(pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]}))
    >>> enc.transform(pd.DataFrame({"x": [3.0, None], "c": ["b", "zzz"]})).tolist()
    [[3.0, 1.0], [nan, 2.0]]
    """

    def __init__(self, max_categories: int = 100) -> None:
        self.max_categories = max_categories

    def fit(self, frame: pd.DataFrame) -> Self:
        self.columns_ = [str(c) for c in frame.columns]
        self.categories_: dict[str, list[str]] = {}
        for name, column in zip(self.columns_, frame.columns, strict=True):
            series = frame[column]
            if not _is_numeric(series):
                counts = series.dropna().astype(str).value_counts(sort=False)
                ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
                self.categories_[name] = sorted(str(k) for k, _ in ranked[: self.max_categories])
        return self

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, name in enumerate(self.columns_) if name in self.categories_]

    def transform(self, frame: pd.DataFrame) -> Floats:
        if not hasattr(self, "columns_"):
            raise NotFittedError("FeatureEncoder is not fitted: call fit(frame) first")
        by_name = {str(c): c for c in frame.columns}
        missing = [c for c in self.columns_ if c not in by_name]
        if missing:
            raise SchemaMismatchError(f"features missing from the window: {missing}")
        out = np.empty((len(frame), len(self.columns_)), dtype=np.float64)
        for j, name in enumerate(self.columns_):
            series = frame[by_name[name]]
            if name in self.categories_:
                cats = self.categories_[name]
                codes = pd.Categorical(series.astype(str), categories=cats).codes
                values = codes.astype(np.float64)
                values[codes < 0] = len(cats)  # rare at fit time, or unseen
                values[series.isna().to_numpy()] = np.nan
                out[:, j] = values
            else:
                try:
                    out[:, j] = pd.to_numeric(series, errors="raise").to_numpy(
                        dtype=np.float64, na_value=np.nan
                    )
                except (TypeError, ValueError) as exc:
                    raise MonitoringError(
                        f"feature {name!r} was numeric at fit time but holds {exc}"
                    ) from exc
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_categories": self.max_categories,
            "columns": list(self.columns_),
            "categories": {k: list(v) for k, v in self.categories_.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        out = cls(int(data["max_categories"]))
        out.columns_ = [str(c) for c in data["columns"]]
        out.categories_ = {str(k): [str(v) for v in vs] for k, vs in data["categories"].items()}
        return out


class DirectLossEstimator:
    """DLE for a regressor: ``fit(features, y_true, y_pred)`` on reference data, then
    ``estimate(features, y_pred)`` per window gives a :class:`MetricsReport` (``estimated``).

    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 2, 3000); c = rng.choice(["calm", "wild"], 3000)
    >>> y = x + rng.normal(0, np.where(c == "wild", 1.0, 0.2))
    >>> frame = pd.DataFrame({"x": x, "c": c})
    >>> dle = DirectLossEstimator(n_estimators=50).fit(frame, y, x)
    >>> report = dle.estimate(frame[c == "wild"], x[c == "wild"])
    >>> 0.7 < report["mae"].value < 0.9, report.kind, report["mae"].method
    (True, 'estimated', 'direct_loss')
    """

    def __init__(
        self,
        metrics: Sequence[str] = DLE_METRICS,
        confidence: float = 0.95,
        seed: int = 0,
        n_folds: int = 5,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        max_categories: int = 100,
        num_threads: int = 1,
    ) -> None:
        self.metrics = tuple(metrics)
        self.confidence = confidence
        self.seed = seed
        self.n_folds = n_folds
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_categories = max_categories
        self.num_threads = num_threads

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }

    def _design(self, features: pd.DataFrame, y_pred: ArrayLike) -> pd.DataFrame:
        if not isinstance(features, pd.DataFrame):
            raise MonitoringError("features must be a pandas DataFrame")
        if PREDICTION in features.columns:
            raise MonitoringError(f"a feature may not be named {PREDICTION!r}")
        prediction = np.asarray(y_pred, dtype=np.float64).reshape(-1)
        if prediction.size != len(features):
            raise MonitoringError(f"{len(features)} feature rows but {prediction.size} predictions")
        design = features.reset_index(drop=True).copy()
        design[PREDICTION] = prediction
        return design

    def _train(self, x: Floats, target: Floats) -> lgb.Booster:
        data = lgb.Dataset(
            x,
            target,
            categorical_feature=self.encoder_.categorical_indices,
            params={"verbosity": -1, "max_bin": 255},
            free_raw_data=True,
        )
        return lgb.train(self._params(), data, num_boost_round=self.n_estimators)

    def _predict(self, model: lgb.Booster, x: Floats) -> Floats:
        """A loss model's prediction, floored at 0 (threads passed again: a loaded model
        would otherwise use LightGBM's default, slower on shared cores)."""
        raw = model.predict(x, num_threads=self.num_threads)
        return np.maximum(np.asarray(raw, dtype=np.float64), 0.0)

    def fit(self, features: pd.DataFrame, y_true: ArrayLike, y_pred: ArrayLike) -> Self:
        unknown = [m for m in self.metrics if m not in DLE_METRICS]
        if unknown or not self.metrics:
            raise MonitoringError(
                f"DirectLossEstimator metrics must be among {DLE_METRICS}, got {self.metrics}"
            )
        if self.n_folds < 2:
            raise MonitoringError(f"n_folds must be at least 2, got {self.n_folds}")
        design = self._design(features, y_pred)
        truth = np.asarray(y_true, dtype=np.float64).reshape(-1)
        if truth.size != len(design) or truth.size < 2 * self.n_folds:
            raise MonitoringError(
                f"need as many labels as rows and at least {2 * self.n_folds} rows, "
                f"got {truth.size} labels for {len(design)} rows"
            )
        self.encoder_ = FeatureEncoder(self.max_categories).fit(design)
        x = self.encoder_.transform(design)
        error = design[PREDICTION].to_numpy() - truth
        folds = np.random.default_rng(self.seed).permutation(truth.size) % self.n_folds
        self.loss_models_: dict[str, list[lgb.Booster]] = {}
        self.noise_models_: dict[str, lgb.Booster] = {}
        for metric in self.metrics:
            target = _row_loss(metric, error)
            out_of_fold = np.empty_like(target)
            models = []
            for k in range(self.n_folds):
                held = folds == k
                model = self._train(x[~held], target[~held])
                out_of_fold[held] = self._predict(model, x[held])
                models.append(model)
            self.loss_models_[metric] = models
            self.noise_models_[metric] = self._train(x, (target - out_of_fold) ** 2)
        self.n_reference_ = int(truth.size)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "loss_models_"):
            raise NotFittedError(
                "DirectLossEstimator is not fitted: call fit(features, y_true, y_pred) first"
            )

    def estimate(self, features: pd.DataFrame, y_pred: ArrayLike) -> MetricsReport:
        """Estimated MAE / RMSE of the window, each with its ``confidence`` interval."""
        self._check_fitted()
        design = self._design(features, y_pred)
        n = len(design)
        if n == 0:
            raise MonitoringError("cannot estimate performance on an empty window")
        x = self.encoder_.transform(design)
        z = z_value(self.confidence)
        out = {}
        for metric, models in self.loss_models_.items():
            fold_means = np.array([self._predict(m, x).mean() for m in models])
            mean = float(fold_means.mean())
            k = fold_means.size
            jackknife = (k - 1) / k * float(np.sum((fold_means - mean) ** 2))
            noise = float(self._predict(self.noise_models_[metric], x).sum()) / n**2
            half = z * float(np.sqrt(noise + jackknife))
            lower, upper = max(mean - half, 0.0), mean + half
            if metric == "rmse":
                mean, lower, upper = float(np.sqrt(mean)), float(np.sqrt(lower)), np.sqrt(upper)
            out[metric] = MetricEstimate(
                metric, mean, float(lower), float(upper), n, "direct_loss", self.confidence
            )
        return MetricsReport(out, "estimated")

    def _settings(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "confidence": self.confidence,
            "seed": self.seed,
            "n_folds": self.n_folds,
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "max_categories": self.max_categories,
            "num_threads": self.num_threads,
        }

    def to_dict(self) -> dict[str, Any]:
        """Settings and fitted state as JSON-able data (LightGBM models as their text dump)."""
        self._check_fitted()
        return {
            **self._settings(),
            "n_reference": self.n_reference_,
            "encoder": self.encoder_.to_dict(),
            "loss_models": {
                m: [b.model_to_string() for b in boosters]
                for m, boosters in self.loss_models_.items()
            },
            "noise_models": {m: b.model_to_string() for m, b in self.noise_models_.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        settings = {k: data[k] for k in cls()._settings() if k in data}
        out = cls(**settings)
        out.n_reference_ = int(data["n_reference"])
        out.encoder_ = FeatureEncoder.from_dict(data["encoder"])
        out.loss_models_ = {
            str(m): [lgb.Booster(model_str=text) for text in texts]
            for m, texts in data["loss_models"].items()
        }
        out.noise_models_ = {
            str(m): lgb.Booster(model_str=text) for m, text in data["noise_models"].items()
        }
        return out
