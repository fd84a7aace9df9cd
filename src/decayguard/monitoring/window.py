"""Window profiles: the sufficient statistics of a current window, computed in one pass.

A window profile is built against a :class:`~decayguard.monitoring.profile.ReferenceProfile`:
numeric values are counted on the reference grid (which is all the Kolmogorov–Smirnov, binned and
Wasserstein statistics need), categorical values on the reference categories plus the
other/unseen bucket. Profiles of the same reference :meth:`~WindowProfile.merge`, so windows can
be profiled in parallel (or per partition) and combined; merging is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from decayguard.monitoring.errors import ProfileError, SchemaMismatchError
from decayguard.monitoring.profile import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    category_counts,
    numeric_values,
)

__all__ = ["CategoricalWindow", "NumericWindow", "WindowProfile"]


@dataclass(frozen=True, eq=False)
class NumericWindow:
    """Counts of one numeric feature on the reference grid keys, plus moments and tails.

    ``below`` is the sum of ``grid[0] - x`` over values under the reference minimum, ``above``
    the sum of ``x - grid[-1]`` over values over its maximum (the Wasserstein tails).
    Non-finite values (NaN, ±inf) count as missing.
    """

    name: str
    counts: NDArray[np.int64]
    n_missing: int
    minimum: float
    maximum: float
    total: float
    total_sq: float
    below: float
    above: float

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def of(cls, reference: NumericReference, values: NDArray[np.float64]) -> Self:
        total = float(values.sum())
        if np.isfinite(total):  # no NaN or inf (a finite sum proves it): skip the mask pass
            finite = values
        else:
            finite = values[np.isfinite(values)]
            total = float(finite.sum())
        counts = reference.locator.counts(finite)
        below = above = 0.0
        if counts[0]:
            outside = finite[finite < reference.minimum]
            below = float(outside.size * reference.minimum - outside.sum())
        if counts[-1]:
            outside = finite[finite > reference.maximum]
            above = float(outside.sum() - outside.size * reference.maximum)
        empty = finite.size == 0
        return cls(
            name=reference.name,
            counts=counts,
            n_missing=int(values.size - finite.size),
            minimum=float("nan") if empty else float(finite.min()),
            maximum=float("nan") if empty else float(finite.max()),
            total=total,
            total_sq=float(np.einsum("i,i->", finite, finite)),  # no BLAS threads
            below=below,
            above=above,
        )

    def merge(self, other: NumericWindow) -> NumericWindow:
        return NumericWindow(
            name=self.name,
            counts=self.counts + other.counts,
            n_missing=self.n_missing + other.n_missing,
            minimum=float(np.fmin(self.minimum, other.minimum)),
            maximum=float(np.fmax(self.maximum, other.maximum)),
            total=self.total + other.total,
            total_sq=self.total_sq + other.total_sq,
            below=self.below + other.below,
            above=self.above + other.above,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "name": self.name,
            "counts": self.counts.tolist(),
            "n_missing": self.n_missing,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "total": self.total,
            "total_sq": self.total_sq,
            "below": self.below,
            "above": self.above,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        fields = {
            k: float(data[k]) for k in ("minimum", "maximum", "total", "total_sq", "below", "above")
        }
        return cls(
            name=str(data["name"]),
            counts=np.asarray(data["counts"], dtype=np.int64),
            n_missing=int(data["n_missing"]),
            **fields,
        )


@dataclass(frozen=True, eq=False)
class CategoricalWindow:
    """Counts of one categorical feature on the reference categories; last = other/unseen."""

    name: str
    counts: NDArray[np.int64]
    n_missing: int

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def of(cls, reference: CategoricalReference, series: pd.Series) -> Self:
        labels, counts, n_missing = category_counts(series)
        unseen = len(reference.categories)
        positions = np.array(
            [reference.index.get(label, unseen) for label in labels], dtype=np.intp
        )
        binned = np.bincount(positions, weights=counts, minlength=unseen + 1)
        return cls(name=reference.name, counts=binned.astype(np.int64), n_missing=n_missing)

    def merge(self, other: CategoricalWindow) -> CategoricalWindow:
        return CategoricalWindow(
            self.name, self.counts + other.counts, self.n_missing + other.n_missing
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "name": self.name,
            "counts": self.counts.tolist(),
            "n_missing": self.n_missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        counts = np.asarray(data["counts"], dtype=np.int64)
        return cls(name=str(data["name"]), counts=counts, n_missing=int(data["n_missing"]))


FeatureWindow = NumericWindow | CategoricalWindow


def _merge_feature(name: str, mine: FeatureWindow, theirs: FeatureWindow) -> FeatureWindow:
    if isinstance(mine, NumericWindow) and isinstance(theirs, NumericWindow):
        return mine.merge(theirs)
    if isinstance(mine, CategoricalWindow) and isinstance(theirs, CategoricalWindow):
        return mine.merge(theirs)
    raise ProfileError(f"feature {name!r} has different kinds in the two windows")


@dataclass(frozen=True, eq=False)
class WindowProfile:
    """Per-feature window statistics against one reference profile (by fingerprint)."""

    reference_fingerprint: str
    n_rows: int
    features: Mapping[str, FeatureWindow]

    @classmethod
    def from_frame(cls, reference: ReferenceProfile, frame: pd.DataFrame) -> WindowProfile:
        """Profile ``frame`` against ``reference`` (every reference feature must be a column)."""
        absent = [name for name in reference.features_ if name not in frame.columns]
        if absent:
            raise SchemaMismatchError(
                f"current data has no column(s) {absent} of the reference profile"
            )
        features: dict[str, FeatureWindow] = {}
        for name, ref in reference.features_.items():
            if isinstance(ref, NumericReference):
                features[name] = NumericWindow.of(ref, numeric_values(frame[name]))
            else:
                features[name] = CategoricalWindow.of(ref, frame[name])
        return cls(reference.fingerprint, len(frame), features)

    def merge(self, other: WindowProfile) -> WindowProfile:
        """Combine two windows of the same reference (exact: counts and sums add)."""
        if other.reference_fingerprint != self.reference_fingerprint:
            raise ProfileError(
                "cannot merge window profiles built against different reference profiles"
            )
        merged: dict[str, FeatureWindow] = {}
        for name, window in self.features.items():
            theirs = other.features[name]
            merged[name] = _merge_feature(name, window, theirs)
        return WindowProfile(self.reference_fingerprint, self.n_rows + other.n_rows, merged)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (so a partition's window can travel between processes)."""
        return {
            "reference_fingerprint": self.reference_fingerprint,
            "n_rows": self.n_rows,
            "features": [window.to_dict() for window in self.features.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowProfile:
        try:
            windows: list[FeatureWindow] = [
                NumericWindow.from_dict(f)
                if f["kind"] == "numeric"
                else CategoricalWindow.from_dict(f)
                for f in data["features"]
            ]
            return cls(
                str(data["reference_fingerprint"]),
                int(data["n_rows"]),
                {w.name: w for w in windows},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"malformed window profile dict: {exc!r}") from exc
