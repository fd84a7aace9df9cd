"""The dashboard and the self-contained report: what they show (:mod:`.data`), the Plotly
charts both draw (:mod:`.charts`, :mod:`.timelines`) and the HTML report (:mod:`.report`).

Importing this package is cheap (the control API imports it at start-up); each name loads its
module, and Plotly with the charts, on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Chart": "decayguard.dashboard.charts",
    "DashboardData": "decayguard.dashboard.data",
    "TimeRange": "decayguard.dashboard.data",
    "build_charts": "decayguard.dashboard.charts",
    "load_dashboard": "decayguard.dashboard.data",
    "render_report": "decayguard.dashboard.report",
    "resolve_range": "decayguard.dashboard.data",
    "write_report": "decayguard.dashboard.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
