"""The dashboard and the self-contained report: what they show (:mod:`.data`), the Plotly
charts both draw (:mod:`.charts`, :mod:`.timelines`) and the HTML report (:mod:`.report`)."""

from decayguard.dashboard.charts import Chart, build_charts
from decayguard.dashboard.data import DashboardData, TimeRange, load_dashboard, resolve_range
from decayguard.dashboard.report import render_report, write_report

__all__ = [
    "Chart",
    "DashboardData",
    "TimeRange",
    "build_charts",
    "load_dashboard",
    "render_report",
    "resolve_range",
    "write_report",
]
