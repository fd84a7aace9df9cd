"""Per-arm serving health: requests, failed scorings and scoring latency per model version.

CONTRACT (filled in by the serving helper): Prometheus metrics defined once per process (this
module is not reloaded by MLServer), labelled ``model``, ``version`` and ``arm``, exposed on
MLServer's metrics port; :func:`read_arm_health` scrapes and parses them into
:class:`ArmHealth` per version.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArmHealth:
    """One model version's serving health since its process loaded it."""

    version: str
    requests: int
    """Requests the version scored (answered or silently)."""
    errors: int
    """Scorings that failed with an error of the model or the server (not client errors)."""
    p99_ms: float | None
    """99th percentile of its scoring latency in milliseconds (``None``: no requests)."""

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def read_arm_health(metrics_url: str, model_name: str, timeout: float = 5.0) -> dict[str, ArmHealth]:
    """Scrape ``metrics_url`` (MLServer's ``/metrics``) into health per model version."""
    raise NotImplementedError
