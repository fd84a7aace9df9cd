"""What every chart shares: the :class:`Chart` record, colours, UTC time strings, layout.

Times are UTC, drawn as naive ``YYYY-MM-DD HH:MM:SS`` strings (Plotly.js has no time zones);
every time axis spans the asked range, so the charts line up one above the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from decayguard.dashboard.data import DashboardData

__all__ = ["Chart"]

STRATEGY_LABELS = {"proxy": "label-free estimate", "review": "human review", "realized": "realized"}
STRATEGY_COLORS = {"proxy": "#1f77b4", "review": "#9467bd", "realized": "#2ca02c"}
BANDS = {
    "proxy": "rgba(31,119,180,0.15)",
    "review": "rgba(148,103,189,0.15)",
    "realized": "rgba(44,160,44,0.15)",
}
STAGE_COLORS = {
    "registered": "#c7c7c7",
    "validated": "#aec7e8",
    "shadow": "#9edae5",
    "canary": "#ffbb78",
    "champion": "#2ca02c",
    "rejected": "#e0a0a0",
    "rolled_back": "#d62728",
    "superseded": "#e7e7e7",
}
ACTION_SYMBOLS = {"promote": "star", "roll_back": "x", "reject": "x-open", "deploy": "star"}
SEVERITY_COLORS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
FLAG_COLOR = "#d62728"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
GRID = "#ebf0f8"


@dataclass(frozen=True)
class Chart:
    """One chart: its element id, its heading, a one-line caption and the figure."""

    id: str
    title: str
    caption: str
    figure: go.Figure

    @property
    def points(self) -> int:
        """Data points drawn (heatmap cells count one each)."""
        total = 0
        for trace in self.figure.data:
            z = getattr(trace, "z", None)
            if z is not None:
                total += sum(len(row) for row in z)
            elif getattr(trace, "x", None) is not None:
                total += len(trace.x)
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "caption": self.caption,
            "figure": self.figure.to_plotly_json(),
        }


def times(values: Iterable[Any]) -> list[str]:
    """UTC times as Plotly.js reads them (naive text)."""
    index = pd.DatetimeIndex(pd.to_datetime(list(values), utc=True))
    return [str(v) for v in index.strftime(TIME_FORMAT)]


def t(moment: datetime) -> str:
    return times([moment])[0]


def layout(data: DashboardData, fig: go.Figure, *, height: int, y_title: str = "") -> None:
    """The look every chart shares (white, light grid: plotly_white's, set by hand because
    applying a named template cost a third of the page's build time)."""
    fig.update_layout(
        template="none",
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        height=height,
        margin={"l": 70, "r": 20, "t": 30, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hovermode="closest",
        showlegend=True,
        font={"size": 12},
    )
    fig.update_xaxes(
        type="date",
        range=[t(data.time_range.since), t(data.time_range.until)],
        title=None,
        gridcolor=GRID,
        linecolor=GRID,
        zeroline=False,
        ticks="",
    )
    fig.update_yaxes(gridcolor=GRID, linecolor=GRID, zeroline=False, ticks="")
    if y_title:
        fig.update_yaxes(title=y_title)


def empty(fig: go.Figure, message: str) -> None:
    fig.add_annotation(
        text=message,
        showarrow=False,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        font={"size": 14, "color": "#777"},
    )


def versions(rows: pd.DataFrame) -> list[str | None]:
    return sorted({None if pd.isna(v) else str(v) for v in rows["model_version"]}, key=str)


def of_version(rows: pd.DataFrame, version: str | None) -> pd.DataFrame:
    if version is None:
        return rows[rows["model_version"].isna()]
    return rows[rows["model_version"].astype(str) == version]


def duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n}-{unit}" if n != 1 else unit
    return f"{seconds}-second"
