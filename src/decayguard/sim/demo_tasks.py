"""What the demo sets up differently per model task (the rest of the demo is one code path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from decayguard.sim.targets import TARGETS

MODEL = "credit-default"
"""The binary demo's model name (the other tasks' are in :data:`DEMO_TASKS`)."""


@dataclass(frozen=True)
class DemoTask:
    """How the demo sets up a model of one task: its name, the decay thresholds, and the
    task-specific keys of ``decayguard.yaml``.

    The thresholds come from the simulator's ground truth (``docs/simulator.md``): they lie
    between the champion's performance before the concept onset (in every 7-day label
    window, recession included) and after it, so crossing them is a real decay.
    """

    model_name: str
    performance_thresholds: dict[str, float]
    review_strategy: str
    """``uncertainty`` needs a score in [0, 1] with a decision threshold: binary only."""
    model_keys: dict[str, Any] = field(default_factory=dict)
    feedback_keys: dict[str, Any] = field(default_factory=dict)


DEMO_TASKS: dict[str, DemoTask] = {
    # Champion accuracy 0.90 before the rate shock, 0.63-0.67 after it.
    "binary": DemoTask(MODEL, {"accuracy": 0.8}, "uncertainty", model_keys={"positive_class": "1"}),
    # Champion accuracy 0.78-0.83 before the rate shock, 0.36 after it.
    "multiclass": DemoTask(
        "credit-grade",
        {"accuracy": 0.65},
        "uniform",
        feedback_keys={"label_values": list(TARGETS["multiclass"].classes)},
    ),
    # Champion MAE 2,600-3,200 before the rate shock, 6,800-6,900 after it.
    "regression": DemoTask("credit-loss", {"mae": 4000.0}, "uniform"),
}
"""The demo's set-up per ``model.task``."""
