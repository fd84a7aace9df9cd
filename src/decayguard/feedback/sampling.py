"""Budgeted human-review sampling with inclusion probabilities fixed at prediction time.

A :class:`ReviewSampler` decides, for each prediction as it is served, whether it goes
to the human-review queue. It computes the prediction's *inclusion probability* ``p``
(recorded next to the prediction) and draws a Bernoulli(``p``). Because every
prediction's ``p`` is known, the reviewed sample can be re-weighted by ``1 / p``
(Horvitz-Thompson / Hajek) and gives unbiased accuracy even when the strategy
oversamples some predictions on purpose.

Strategies (objects from :data:`STRATEGIES`, picked by name) only give *relative*
weights; the sampler scales them so that the expected sampled share equals the budget
exactly, capping probabilities at 1 and handing the excess to the others
("water-filling")::

    uniform      every prediction has the same weight
    stratified   weight 1 / (expected share of the predicted class): each class gets
                 the same number of reviews, so rare classes are not drowned out
    uncertainty  weight grows near the decision boundary (score close to the
                 threshold), with a floor so that no prediction has probability 0

The scale is learned by :meth:`ReviewSampler.fit` on a *reference* sample of scores and
predicted classes (for example the validation set's predictions). Unfitted, the sampler
assumes scores spread evenly over ``[0, 1]`` and (for ``stratified``) treats classes
alike. The budget is met in expectation over traffic that looks like the reference.

This module imports only numpy so that the serving runtime can use it::

    >>> import numpy as np
    >>> sampler = ReviewSampler("uncertainty", ReviewBudget(share=0.1)).fit(
    ...     np.linspace(0.0, 1.0, 1001))
    >>> p_edge = sampler.inclusion_probability(0.02, "0")
    >>> p_mid = sampler.inclusion_probability(0.5, "1")
    >>> p_mid > p_edge > 0
    True
    >>> bool(np.isclose(np.mean([sampler.inclusion_probability(float(s), None)
    ...                          for s in np.linspace(0.0, 1.0, 1001)]), 0.1))
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from decayguard.errors import ConfigError

if TYPE_CHECKING:
    from decayguard.config import FeedbackConfig

__all__ = [
    "STRATEGIES",
    "Reference",
    "ReviewBudget",
    "ReviewSampler",
    "SamplingStrategy",
    "StratifiedByClass",
    "UncertaintyWeighted",
    "Uniform",
    "solve_scale",
]

FloatArray = npt.NDArray[np.float64]
_TINY = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True, slots=True)
class ReviewBudget:
    """How many predictions humans can review: a ``share``, or ``per_day`` reviews.

    ``per_day`` needs ``expected_daily_volume`` (predictions per day) to turn into a
    share; the resulting share is capped at 1.

        >>> ReviewBudget(per_day=50, expected_daily_volume=10_000).expected_share
        0.005
    """

    share: float | None = None
    per_day: float | None = None
    expected_daily_volume: float | None = None

    def __post_init__(self) -> None:
        if (self.share is None) == (self.per_day is None):
            raise ValueError("a review budget needs exactly one of share or per_day")
        if self.share is not None and not 0.0 <= self.share <= 1.0:
            raise ValueError(f"review share must be within [0, 1], got {self.share}")
        if self.per_day is not None:
            if self.per_day < 0:
                raise ValueError(f"reviews per day must be >= 0, got {self.per_day}")
            if self.expected_daily_volume is None or self.expected_daily_volume <= 0:
                raise ValueError(
                    "a per-day review budget needs expected_daily_volume > 0 "
                    "(predictions per day) to turn into a share"
                )

    @property
    def expected_share(self) -> float:
        """The expected share of predictions to sample, in ``[0, 1]``."""
        if self.share is not None:
            return self.share
        assert self.per_day is not None
        assert self.expected_daily_volume is not None
        return min(1.0, self.per_day / self.expected_daily_volume)


class SamplingStrategy(Protocol):
    """Relative review weights; the sampler turns them into probabilities."""

    name: ClassVar[str]

    def fit(self, scores: FloatArray, classes: Sequence[str | None] | None) -> SamplingStrategy: ...

    def weights(self, scores: FloatArray, classes: Sequence[str | None]) -> FloatArray:
        """Strictly positive relative weights, one per prediction (NaN score: missing)."""
        ...

    def weight(self, score: float | None, predicted_class: str | None) -> float:
        """The weight of one prediction, equal to :meth:`weights` (plain Python: this is on
        the serving path, once per request)."""
        ...

    def default_reference(self) -> Reference:
        """The traffic assumed when the sampler is used without :meth:`ReviewSampler.fit`."""
        ...


@dataclass(frozen=True, slots=True)
class Reference:
    """Reference traffic: scores, predicted classes and how often each row occurs."""

    scores: FloatArray
    classes: list[str | None]
    frequencies: FloatArray


class Uniform:
    """Every prediction has the same chance."""

    name: ClassVar[str] = "uniform"

    def fit(self, scores: FloatArray, classes: Sequence[str | None] | None) -> Uniform:
        return self

    def weights(self, scores: FloatArray, classes: Sequence[str | None]) -> FloatArray:
        return np.ones(len(classes), dtype=np.float64)

    def weight(self, score: float | None, predicted_class: str | None) -> float:
        return 1.0

    def default_reference(self) -> Reference:
        return Reference(np.array([np.nan]), [None], np.ones(1))


class StratifiedByClass:
    """The same expected number of reviews for every predicted class.

    ``class_shares`` (expected share of each predicted class) may be given, or learned
    by :meth:`fit` from reference predictions. A class never seen in the reference is
    treated as the rarest one. Without any class shares every class weighs the same.
    """

    name: ClassVar[str] = "stratified"

    def __init__(self, class_shares: Mapping[str, float] | None = None) -> None:
        self.class_shares = dict(class_shares) if class_shares else None

    def fit(self, scores: FloatArray, classes: Sequence[str | None] | None) -> StratifiedByClass:
        if self.class_shares is not None:
            self.shares_ = dict(self.class_shares)
        elif classes is not None and len(classes):
            values, counts = np.unique(
                np.asarray([str(c) for c in classes if c is not None]), return_counts=True
            )
            total = counts.sum()
            self.shares_ = {str(v): float(n / total) for v, n in zip(values, counts, strict=True)}
        else:
            self.shares_ = {}
        positive = [s for s in self.shares_.values() if s > 0]
        self.rarest_ = min(positive) if positive else 1.0
        return self

    def weights(self, scores: FloatArray, classes: Sequence[str | None]) -> FloatArray:
        shares: dict[str, float] = getattr(self, "shares_", {})
        if not shares:
            return np.ones(len(classes), dtype=np.float64)
        return np.asarray([self.weight(None, c) for c in classes], dtype=np.float64)

    def weight(self, score: float | None, predicted_class: str | None) -> float:
        shares: dict[str, float] = getattr(self, "shares_", {})
        if not shares:
            return 1.0
        share = shares.get(str(predicted_class)) if predicted_class is not None else None
        return 1.0 / (share if share else self.rarest_)

    def default_reference(self) -> Reference:
        if not self.class_shares:
            return Reference(np.array([np.nan]), [None], np.ones(1))
        classes: list[str | None] = list(self.class_shares)
        freq = np.asarray(list(self.class_shares.values()), dtype=np.float64)
        return Reference(np.full(len(classes), np.nan), classes, freq)


class UncertaintyWeighted:
    """Oversample predictions whose score is close to the decision threshold.

    The weight is ``floor + (1 - floor) * (1 - margin) ** sharpness`` where ``margin`` is
    the distance of the score from ``threshold``, scaled to ``[0, 1]``. The floor keeps
    every prediction's probability above zero, which unbiased estimates need. A missing
    score weighs as much as an average prediction would (weight 1 before scaling).
    """

    name: ClassVar[str] = "uncertainty"

    def __init__(self, threshold: float = 0.5, floor: float = 0.1, sharpness: float = 1.0) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"uncertainty threshold must be within (0, 1), got {threshold}")
        if not 0.0 < floor <= 1.0:
            raise ValueError(f"uncertainty floor must be within (0, 1], got {floor}")
        if sharpness <= 0:
            raise ValueError(f"uncertainty sharpness must be > 0, got {sharpness}")
        self.threshold = threshold
        self.floor = floor
        self.sharpness = sharpness

    def fit(self, scores: FloatArray, classes: Sequence[str | None] | None) -> UncertaintyWeighted:
        finite = scores[np.isfinite(scores)]
        self.mean_weight_ = float(np.mean(self._weights(finite))) if finite.size else 1.0
        return self

    def _weights(self, scores: FloatArray) -> FloatArray:
        span = max(self.threshold, 1.0 - self.threshold)
        margin = np.clip(np.abs(np.clip(scores, 0.0, 1.0) - self.threshold) / span, 0.0, 1.0)
        weights: FloatArray = self.floor + (1.0 - self.floor) * (1.0 - margin) ** self.sharpness
        return weights

    def weights(self, scores: FloatArray, classes: Sequence[str | None]) -> FloatArray:
        finite = np.isfinite(scores)
        out = np.full(scores.shape, float(getattr(self, "mean_weight_", 1.0)))
        out[finite] = self._weights(scores[finite])
        return out

    def weight(self, score: float | None, predicted_class: str | None) -> float:
        if score is None or not math.isfinite(score):
            return float(getattr(self, "mean_weight_", 1.0))
        span = max(self.threshold, 1.0 - self.threshold)
        margin = min(abs(min(max(score, 0.0), 1.0) - self.threshold) / span, 1.0)
        return float(self.floor + (1.0 - self.floor) * (1.0 - margin) ** self.sharpness)

    def default_reference(self) -> Reference:
        grid = np.linspace(0.0, 1.0, 1001)
        return Reference(grid, [None] * grid.size, np.ones(grid.size))


STRATEGIES: dict[str, Callable[[], SamplingStrategy]] = {
    Uniform.name: Uniform,
    StratifiedByClass.name: StratifiedByClass,
    UncertaintyWeighted.name: UncertaintyWeighted,
}
"""Review-sampling strategies by name (the ``feedback.review_strategy`` setting)."""


def solve_scale(weights: FloatArray, share: float, frequencies: FloatArray | None = None) -> float:
    """The scale ``c`` with ``mean(min(1, c * w)) == share`` (exact water-filling).

    ``weights`` must be strictly positive; ``frequencies`` (default: all 1) weigh the
    mean. A share of 1 gives a scale at which every probability is 1.

        >>> w = np.array([1.0, 1.0, 8.0])
        >>> c = solve_scale(w, 0.5)
        >>> float(np.mean(np.minimum(1.0, c * w)))
        0.5
    """
    w = np.asarray(weights, dtype=np.float64)
    f = np.ones_like(w) if frequencies is None else np.asarray(frequencies, dtype=np.float64)
    if w.size == 0 or not np.all(w > 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be a non-empty array of finite positive numbers")
    if f.shape != w.shape or not np.all(f >= 0) or not f.sum() > 0:
        raise ValueError("frequencies must be non-negative, one per weight, not all zero")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be within [0, 1], got {share}")
    order = np.argsort(w)
    w, f = w[order], f[order] / f.sum()
    if share >= 1.0:
        return float(1.0 / w[0])
    head_mass = np.cumsum(f * w)  # head_mass[j]: sum of f * w over the j+1 smallest weights
    tail_freq = np.concatenate([np.cumsum(f[::-1])[::-1], [0.0]])  # tail_freq[j]: f over j..
    n = w.size
    # With every weight from index `rest` on capped at 1:
    #   tail_freq[rest] + c * head_mass[rest - 1] == share.
    for rest in range(n, 0, -1):
        c = (share - tail_freq[rest]) / head_mass[rest - 1]
        below_cap = c * w[rest - 1] <= 1.0 + 1e-12
        above_cap = rest == n or c * w[rest] >= 1.0 - 1e-12
        if c >= 0 and below_cap and above_cap:
            return float(c)
    raise AssertionError("unreachable: water-filling always has a solution for share < 1")


class ReviewSampler:
    """Inclusion probabilities and draws for human review, under a budget.

    ``strategy`` is a name from :data:`STRATEGIES` or a strategy object. Call
    :meth:`fit` with reference scores (and predicted classes for ``stratified``) so
    that the expected sampled share matches the budget on traffic like the reference.
    """

    def __init__(self, strategy: str | SamplingStrategy, budget: ReviewBudget) -> None:
        if isinstance(strategy, str):
            try:
                strategy = STRATEGIES[strategy]()
            except KeyError as exc:
                known = ", ".join(sorted(STRATEGIES))
                raise ValueError(f"unknown review strategy {strategy!r} (known: {known})") from exc
        self.strategy = strategy
        self.budget = budget

    @classmethod
    def from_config(
        cls, feedback: FeedbackConfig, *, expected_daily_volume: float | None = None
    ) -> ReviewSampler:
        """Build the sampler the project's ``feedback`` settings describe (unfitted)."""
        per_day = feedback.review_per_day
        if per_day is not None:
            volume = expected_daily_volume or feedback.expected_daily_predictions
            if volume is None:
                raise ConfigError(
                    "feedback.review_per_day needs feedback.expected_daily_predictions "
                    "(predictions per day) to turn into a sampling share"
                )
            budget = ReviewBudget(per_day=per_day, expected_daily_volume=volume)
        else:
            budget = ReviewBudget(share=feedback.review_share)
        strategy: SamplingStrategy
        if feedback.review_strategy == UncertaintyWeighted.name:
            strategy = UncertaintyWeighted(
                threshold=feedback.decision_threshold, floor=feedback.uncertainty_floor
            )
        else:
            strategy = STRATEGIES[feedback.review_strategy]()
        return cls(strategy, budget)

    @property
    def share(self) -> float:
        """The budgeted expected share of predictions sent to review."""
        return self.budget.expected_share

    def fit(
        self,
        scores: Iterable[float | None] | FloatArray,
        classes: Sequence[str | None] | None = None,
    ) -> ReviewSampler:
        """Learn the scale that makes the mean inclusion probability equal the budget
        on reference traffic (scores, and predicted classes for ``stratified``)."""
        score_arr = np.asarray(
            [np.nan if s is None else float(s) for s in scores], dtype=np.float64
        )
        if score_arr.size == 0:
            raise ValueError("fit needs at least one reference prediction")
        if classes is not None and len(classes) != score_arr.size:
            raise ValueError("scores and classes must have the same length")
        class_list: list[str | None] = (
            list(classes) if classes is not None else [None] * score_arr.size
        )
        self.strategy.fit(score_arr, classes)
        return self._calibrate(Reference(score_arr, class_list, np.ones(score_arr.size)))

    def _calibrate(self, reference: Reference) -> ReviewSampler:
        weights = self.strategy.weights(reference.scores, reference.classes)
        self.scale_ = (
            solve_scale(weights, self.share, reference.frequencies) if self.share > 0 else 0.0
        )
        return self

    def _scale(self) -> float:
        if not hasattr(self, "scale_"):
            reference = self.strategy.default_reference()
            self.strategy.fit(reference.scores, reference.classes)
            self._calibrate(reference)
        return self.scale_

    def inclusion_probability(self, score: float | None, predicted_class: str | None) -> float:
        """The probability, fixed now and recorded with the prediction, that it is reviewed.

        Within ``(0, 1]`` whenever the budget is positive; 0 when review is disabled.
        """
        if self.share <= 0:
            return 0.0
        p = self._scale() * self.strategy.weight(score, predicted_class)
        return min(1.0, max(p, _TINY))

    def inclusion_probabilities(
        self, scores: FloatArray, classes: Sequence[str | None] | None = None
    ) -> FloatArray:
        """:meth:`inclusion_probability` for many predictions at once (NaN: no score)."""
        score_arr = np.asarray(scores, dtype=np.float64)
        class_list = list(classes) if classes is not None else [None] * score_arr.size
        if len(class_list) != score_arr.size:
            raise ValueError("scores and classes must have the same length")
        if self.share <= 0:
            return np.zeros(score_arr.size)
        p = self._scale() * self.strategy.weights(score_arr, class_list)
        out: FloatArray = np.clip(p, _TINY, 1.0)
        return out

    @staticmethod
    def draw(p: float, rng: np.random.Generator) -> bool:
        """Bernoulli(``p``): whether this prediction goes to the review queue."""
        if p >= 1.0:
            return True
        if p <= 0.0:
            return False
        return bool(rng.random() < p)

    @staticmethod
    def draws(p: FloatArray, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
        """:meth:`draw` for many predictions at once."""
        probs = np.asarray(p, dtype=np.float64)
        out: npt.NDArray[np.bool_] = rng.random(probs.size) < probs
        return out
