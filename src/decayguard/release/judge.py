"""The rollout judge (pure): is the challenger, on live traffic, no worse than the champion?

CONTRACT (filled in by the judge helper). An anytime-valid confidence sequence on the mean
paired per-request loss difference ``d = loss(challenger) - loss(champion)`` (positive: the
challenger is worse), valid however often it is looked at: the release flow decides every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from decayguard.monitoring.task_base import ModelOutputs, ModelTask
from decayguard.release.stages import Action, Stage
from decayguard.serving.arm_metrics import ArmHealth

Verdict = Literal["worse", "non_inferior", "undecided"]


@dataclass(frozen=True)
class JudgeVerdict:
    verdict: Verdict
    n: int
    """Paired outcomes the verdict rests on."""
    mean: float
    lower: float
    upper: float
    """The confidence sequence's bounds on the mean difference (running intersection)."""
    margin: float
    confidence: float
    metric: str
    reason: str

    def to_dict(self) -> dict[str, Any]:  # strict JSON (non-finite -> None)
        raise NotImplementedError


def request_losses(
    task: ModelTask,
    metric: str,
    y_true: NDArray[Any],
    champion: ModelOutputs,
    challenger: ModelOutputs,
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    """Per-request losses of both arms for ``metric`` and the loss's name (``0-1`` for
    accuracy and the metrics that are no mean of per-row losses; ``absolute error``...)."""
    raise NotImplementedError


class RolloutJudge:
    """One verb: :meth:`decide` on the paired differences so far (arrival order)."""

    def __init__(
        self, *, margin: float, confidence: float = 0.95, metric: str = "accuracy"
    ) -> None:
        self.margin, self.confidence, self.metric = margin, confidence, metric

    def decide(self, differences: ArrayLike, weights: ArrayLike | None = None) -> JudgeVerdict:
        raise NotImplementedError


@dataclass(frozen=True)
class GuardVerdict:
    breached: bool
    reason: str
    champion: ArmHealth | None
    challenger: ArmHealth | None

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


def guard(
    champion: ArmHealth | None,
    challenger: ArmHealth | None,
    *,
    max_error_rate: float,
    max_latency_ratio: float,
    max_latency_ms: float,
    min_requests: int,
) -> GuardVerdict:
    """The infrastructure guard: breach when the challenger fails or is slow, whatever the
    labels say."""
    raise NotImplementedError


@dataclass(frozen=True)
class Step:
    """What the policy says to do now: an action (``None``: wait) and why."""

    action: Action | None
    reason: str


def next_step(
    stage: Stage,
    *,
    hours_in_stage: float,
    hours_in_trial: float,
    verdict: JudgeVerdict | None,
    guard_verdict: GuardVerdict | None,
    shadow: bool,
    canary_share: float,
    min_shadow_hours: float,
    canary_hours: float,
    min_labels: int,
    max_hours: float,
    auto_promote: bool,
) -> Step:
    """The rollout policy (pure), evaluated every run for the candidate in ``stage``."""
    raise NotImplementedError
