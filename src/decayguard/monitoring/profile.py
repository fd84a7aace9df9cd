"""Reference profiles: fitted once from reference data, saved and reloaded as plain JSON.

A numeric feature keeps a *grid*: the sorted distinct reference values when there are at most
``sketch_size + 1`` of them (then every statistic is exact), otherwise the reference quantiles at
levels ``k / sketch_size``. For each grid point it stores the exact reference counts ``<= g`` and
``< g``. Between two grid points the reference CDF rises by at most ``ks_error_bound``
(about ``1 / sketch_size``), which is the stated error bound of the Kolmogorov–Smirnov statistic
computed against a sketch. A categorical feature keeps category counts plus an "other/unseen"
bucket. No pickle: :meth:`ReferenceProfile.to_dict` gives lists, ints, floats and strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from decayguard.monitoring._grid import GridLocator
from decayguard.monitoring.errors import NotFittedError, ProfileError, SchemaMismatchError

__all__ = ["CategoricalReference", "NumericReference", "ReferenceProfile"]

FORMAT = "decayguard.reference_profile/1"
OTHER = "__other__"
FeatureKind = Literal["numeric", "categorical"]


def numeric_values(series: pd.Series) -> NDArray[np.float64]:
    """A column as float64 with missing values as NaN (zero-copy for float64 columns)."""
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"column {series.name!r} is not numeric: {exc}") from exc


def category_counts(series: pd.Series) -> tuple[list[str], NDArray[np.int64], int]:
    """Distinct labels (as ``str``), their counts and the number of missing values."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        binned = np.bincount(codes.astype(np.intp) + 1, minlength=len(series.cat.categories) + 1)
        labels = [str(c) for c in series.cat.categories]
        return labels, np.asarray(binned[1:], dtype=np.int64), int(binned[0])
    counts = series.value_counts(dropna=True, sort=False)
    labels = [str(c) for c in counts.index]
    values: NDArray[np.int64] = np.asarray(counts.to_numpy(), dtype=np.int64)
    return labels, values, int(len(series) - values.sum())


@dataclass(frozen=True, eq=False)
class NumericReference:
    """The fitted reference of one numeric feature (see the module docstring)."""

    name: str
    n: int
    n_missing: int
    grid: NDArray[np.float64]
    count_le: NDArray[np.int64]
    count_lt: NDArray[np.int64]
    bin_edges: NDArray[np.intp]
    mean: float
    std: float
    exact: bool
    kind: FeatureKind = "numeric"

    @classmethod
    def fit(cls, name: str, values: NDArray[np.float64], sketch_size: int, n_bins: int) -> Self:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise ProfileError(f"numeric feature {name!r} has no finite reference value")
        ordered = np.sort(finite)
        distinct = np.r_[True, ordered[1:] != ordered[:-1]]
        exact = int(distinct.sum()) <= sketch_size + 1
        if exact:
            grid = ordered[distinct]
        else:
            positions = np.round(np.linspace(0, ordered.size - 1, sketch_size + 1)).astype(np.intp)
            grid = np.unique(ordered[positions])
        levels = np.arange(1, n_bins) / n_bins
        cut = np.quantile(ordered, levels, method="inverted_cdf")
        edges = np.unique(np.searchsorted(grid, cut, side="left"))
        return cls(
            name=name,
            n=int(ordered.size),
            n_missing=int(values.size - ordered.size),
            grid=grid,
            count_le=np.searchsorted(ordered, grid, side="right").astype(np.int64),
            count_lt=np.searchsorted(ordered, grid, side="left").astype(np.int64),
            bin_edges=edges[(edges > 0) & (edges < grid.size)].astype(np.intp),
            mean=float(ordered.mean()),
            std=float(ordered.std()),
            exact=exact,
        )

    @property
    def minimum(self) -> float:
        return float(self.grid[0])

    @property
    def maximum(self) -> float:
        return float(self.grid[-1])

    @cached_property
    def locator(self) -> GridLocator:
        return GridLocator(self.grid)

    @cached_property
    def ks_error_bound(self) -> float:
        """Largest rise of the reference CDF strictly between two grid points (0 when exact)."""
        if self.grid.size < 2:
            return 0.0
        return float((self.count_lt[1:] - self.count_le[:-1]).max() / self.n)

    @cached_property
    def key_to_bin(self) -> NDArray[np.intp]:
        """Coarse quantile bin of every grid key (see :class:`GridLocator`)."""
        j = np.arange(self.grid.size + 1)
        at_gap = np.searchsorted(self.bin_edges, j, side="left")
        at_point = np.searchsorted(self.bin_edges, j[:-1], side="right")
        out = np.empty(2 * self.grid.size + 1, dtype=np.intp)
        out[0::2] = at_gap
        out[1::2] = at_point
        return out

    @cached_property
    def bin_counts(self) -> NDArray[np.int64]:
        """Reference counts in the coarse quantile bins ``[edge_{b-1}, edge_b)``."""
        below = self.count_lt[self.bin_edges]
        return np.asarray(np.diff(np.r_[0, below, self.n]), dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "n": self.n,
            "n_missing": self.n_missing,
            "grid": self.grid.tolist(),
            "count_le": self.count_le.tolist(),
            "count_lt": self.count_lt.tolist(),
            "bin_edges": self.bin_edges.tolist(),
            "mean": self.mean,
            "std": self.std,
            "exact": self.exact,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            name=str(data["name"]),
            n=int(data["n"]),
            n_missing=int(data["n_missing"]),
            grid=np.asarray(data["grid"], dtype=np.float64),
            count_le=np.asarray(data["count_le"], dtype=np.int64),
            count_lt=np.asarray(data["count_lt"], dtype=np.int64),
            bin_edges=np.asarray(data["bin_edges"], dtype=np.intp),
            mean=float(data["mean"]),
            std=float(data["std"]),
            exact=bool(data["exact"]),
        )

    def digest(self) -> bytes:
        return self.name.encode() + self.grid.tobytes() + self.count_le.tobytes()


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    """Category counts of one categorical feature; the last count is the other/unseen bucket."""

    name: str
    categories: tuple[str, ...]
    counts: NDArray[np.int64]
    n_missing: int
    kind: FeatureKind = "categorical"

    @classmethod
    def fit(cls, name: str, series: pd.Series, max_categories: int) -> Self:
        labels, counts, n_missing = category_counts(series)
        merged: dict[str, int] = {}
        for label, count in zip(labels, counts.tolist(), strict=True):
            if count > 0:
                merged[label] = merged.get(label, 0) + count
        if not merged:
            raise ProfileError(f"categorical feature {name!r} has no reference value")
        ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
        kept = ranked[:max_categories]
        other = sum(count for _, count in ranked[max_categories:])
        return cls(
            name=name,
            categories=tuple(label for label, _ in kept),
            counts=np.array([count for _, count in kept] + [other], dtype=np.int64),
            n_missing=n_missing,
        )

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @cached_property
    def index(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.categories)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "categories": list(self.categories),
            "counts": self.counts.tolist(),
            "n_missing": self.n_missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            name=str(data["name"]),
            categories=tuple(str(c) for c in data["categories"]),
            counts=np.asarray(data["counts"], dtype=np.int64),
            n_missing=int(data["n_missing"]),
        )

    def digest(self) -> bytes:
        return ("\x1f".join((self.name, *self.categories))).encode() + self.counts.tobytes()


FeatureReference = NumericReference | CategoricalReference


class ReferenceProfile:
    """What drift detection needs to know about the reference data, fitted once.

    Columns not named in ``numeric`` or ``categorical`` are inferred when both are ``None``:
    numbers (not booleans) are numeric, everything else categorical.

    >>> frame = pd.DataFrame({"x": [0.1, 0.4, 0.2, 0.9], "colour": ["r", "g", "r", "b"]})
    >>> profile = ReferenceProfile(sketch_size=64).fit(frame)
    >>> sorted(profile.features_)
    ['colour', 'x']
    >>> ReferenceProfile.from_dict(profile.to_dict()).fingerprint == profile.fingerprint
    True
    """

    def __init__(
        self,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        *,
        sketch_size: int = 4096,
        n_bins: int = 10,
        max_categories: int = 200,
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.sketch_size = sketch_size
        self.n_bins = n_bins
        self.max_categories = max_categories

    def __getattr__(self, name: str) -> Any:
        """Only reached for attributes not set: learned state (``features_``, ``n_rows_``)
        before :meth:`fit` is a :class:`NotFittedError`, anything else an AttributeError."""
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(
                f"ReferenceProfile is not fitted ({name} is unset): call fit(frame) or from_dict"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _columns(self, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
        if self.numeric is None and self.categorical is None:
            numeric = [
                str(c)
                for c in frame.columns
                if pd.api.types.is_numeric_dtype(frame[c])
                and not pd.api.types.is_bool_dtype(frame[c])
            ]
            return numeric, [str(c) for c in frame.columns if str(c) not in numeric]
        return list(self.numeric or ()), list(self.categorical or ())

    def fit(self, frame: pd.DataFrame) -> Self:
        """Profile every feature of ``frame``; returns ``self``."""
        if self.sketch_size < 2 or self.n_bins < 2:
            raise ProfileError("sketch_size and n_bins must be at least 2")
        numeric, categorical = self._columns(frame)
        missing = [c for c in (*numeric, *categorical) if c not in frame.columns]
        if missing:
            raise SchemaMismatchError(f"reference data has no column(s) {missing}")
        features: dict[str, FeatureReference] = {}
        for name in numeric:
            values = numeric_values(frame[name])
            features[name] = NumericReference.fit(name, values, self.sketch_size, self.n_bins)
        for name in categorical:
            features[name] = CategoricalReference.fit(name, frame[name], self.max_categories)
        self.features_ = features
        self.n_rows_ = len(frame)
        return self

    @cached_property
    def fingerprint(self) -> str:
        """A short content hash; windows built against one profile merge only with each other."""
        digest = hashlib.sha256()
        for name in sorted(self.features_):
            digest.update(self.features_[name].digest())
        return digest.hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (lists, numbers and strings only; no pickle)."""
        return {
            "format": FORMAT,
            "params": {
                "sketch_size": self.sketch_size,
                "n_bins": self.n_bins,
                "max_categories": self.max_categories,
            },
            "n_rows": self.n_rows_,
            "features": [feature.to_dict() for feature in self.features_.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Rebuild a fitted profile from :meth:`to_dict` output."""
        if data.get("format") != FORMAT:
            raise ProfileError(f"not a reference profile dict (format {data.get('format')!r})")
        try:
            loaded: list[FeatureReference] = [
                NumericReference.from_dict(f)
                if f["kind"] == "numeric"
                else CategoricalReference.from_dict(f)
                for f in data["features"]
            ]
            profile = cls(
                numeric=[f.name for f in loaded if f.kind == "numeric"],
                categorical=[f.name for f in loaded if f.kind == "categorical"],
                **data["params"],
            )
            profile.n_rows_ = int(data["n_rows"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"malformed reference profile dict: {exc!r}") from exc
        profile.features_ = {f.name: f for f in loaded}
        return profile
