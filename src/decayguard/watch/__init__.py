"""Watching a deployed model: one monitor run reads the window from the store, runs the
monitoring library for the three strategies (proxy signals and label-free estimates; the
human-reviewed sample; retrospective labels), writes metric points and decides.

This is the transport-agnostic core that the Prefect monitor flow, ``decayguard monitor
--once`` and the demo all call.
"""

from decayguard.watch.baseline import MonitoringBaseline, baseline_path, load_baseline
from decayguard.watch.checks import CheckReport, StrategyVerdict, run_checks

__all__ = [
    "CheckReport",
    "MonitoringBaseline",
    "StrategyVerdict",
    "baseline_path",
    "load_baseline",
    "run_checks",
]
