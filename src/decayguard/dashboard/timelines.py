"""The event charts: incidents, the release timeline, review progress and label coverage."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from decayguard.dashboard import _plot as P
from decayguard.dashboard._plot import Chart
from decayguard.dashboard.data import DECAY_PREFIX, DashboardData

__all__ = ["incidents_chart", "release_chart", "reviews_chart"]


def incidents_chart(data: DashboardData) -> Chart:
    """Incidents as bars from opening to resolution (or to now if open), one row per rule,
    coloured by severity."""
    fig = go.Figure()
    until = pd.Timestamp(data.time_range.until)
    for severity in sorted({str(i["severity"]) for i in data.incidents}):
        items = [i for i in data.incidents if str(i["severity"]) == severity]
        starts = [pd.Timestamp(i["opened_at"]) for i in items]
        ends = [pd.Timestamp(i["resolved_at"]) if i["resolved_at"] else until for i in items]
        fig.add_trace(
            go.Bar(
                base=P.times(starts),
                x=[(e - s).total_seconds() * 1000 for s, e in zip(starts, ends, strict=True)],
                y=[str(i["rule"]) for i in items],
                orientation="h",
                name=severity,
                marker={"color": P.SEVERITY_COLORS.get(severity, "#7f7f7f")},
                customdata=[
                    [
                        str(i["status"]),
                        str(i["message"]),
                        P.t(s),
                        "open" if not i["resolved_at"] else P.t(e),
                    ]
                    for i, s, e in zip(items, starts, ends, strict=True)
                ],
                hovertemplate="%{y} (%{customdata[0]})<br>%{customdata[1]}<br>"
                "%{customdata[2]} → %{customdata[3]}<extra></extra>",
            )
        )
    P.layout(data, fig, height=120 + 40 * max(2, len({str(i["rule"]) for i in data.incidents})))
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(type="category", automargin=True)
    if not data.incidents:
        P.empty(fig, "no incidents in this range")
    return Chart(
        "incidents",
        "Incidents",
        "Each incident from its opening to its resolution (to the end of the range while open).",
        fig,
    )


def release_chart(data: DashboardData) -> Chart:
    """The release timeline: each version's stages as coloured bars, every transition a
    marker (promotions stars, rollbacks crosses) with its actor and reason, gate decisions
    diamonds."""
    fig = go.Figure()
    until = pd.Timestamp(data.time_range.until)
    since = pd.Timestamp(data.time_range.since)
    by_version: dict[str, list[dict[str, Any]]] = {}
    for t in [*data.prior_stages, *data.transitions]:
        by_version.setdefault(str(t["version"]), []).append(t)
    segments: dict[str, list[tuple[str, pd.Timestamp, pd.Timestamp]]] = {}
    for version, moves in by_version.items():
        for k, move in enumerate(moves):
            start = max(pd.Timestamp(move["created_at"]), since)
            end = pd.Timestamp(moves[k + 1]["created_at"]) if k + 1 < len(moves) else until
            segments.setdefault(str(move["to_stage"]), []).append((f"v{version}", start, end))
    for stage in P.STAGE_COLORS:
        parts = segments.get(stage, [])
        if not parts:
            continue
        fig.add_trace(
            go.Bar(
                base=P.times(s for _, s, _ in parts),
                x=[max((e - s).total_seconds(), 1.0) * 1000 for _, s, e in parts],
                y=[v for v, _, _ in parts],
                orientation="h",
                name=stage,
                marker={"color": P.STAGE_COLORS[stage], "line": {"width": 0}},
                width=0.5,
                hovertemplate=f"%{{y}}: {stage}<extra></extra>",
            )
        )
    if data.transitions:
        moves = data.transitions
        fig.add_trace(
            go.Scatter(
                x=P.times(m["created_at"] for m in moves),
                y=[f"v{m['version']}" for m in moves],
                mode="markers",
                name="transition",
                marker={
                    "symbol": [P.ACTION_SYMBOLS.get(str(m["action"]), "circle") for m in moves],
                    "size": [16 if m["action"] in P.ACTION_SYMBOLS else 9 for m in moves],
                    "color": ["#d62728" if m["action"] == "roll_back" else "#333" for m in moves],
                    "line": {"width": 1, "color": "#fff"},
                },
                customdata=[
                    [
                        str(m["action"]),
                        str(m["from_stage"] or "-"),
                        str(m["to_stage"]),
                        str(m["actor"]),
                        str(m["reason"]),
                    ]
                    for m in moves
                ],
                hovertemplate="%{y} %{customdata[0]}: %{customdata[1]} → %{customdata[2]}<br>"
                "%{x}<br>by %{customdata[3]}<br>%{customdata[4]}<extra></extra>",
            )
        )
        for m in moves:
            if m["action"] in ("promote", "roll_back"):
                fig.add_annotation(
                    x=P.t(m["created_at"]),
                    y=f"v{m['version']}",
                    yshift=14,
                    showarrow=False,
                    text="promoted" if m["action"] == "promote" else "rolled back",
                    font={"size": 11, "color": "#d62728" if m["action"] == "roll_back" else "#111"},
                )
    if data.gate_reports:
        gates = data.gate_reports
        fig.add_trace(
            go.Scatter(
                x=P.times(g["created_at"] for g in gates),
                y=[f"v{g['version']}" for g in gates],
                mode="markers",
                name="gate decision",
                marker={
                    "symbol": "diamond",
                    "size": 11,
                    "color": ["#2ca02c" if g["passed"] else "#d62728" for g in gates],
                    "line": {"width": 1, "color": "#fff"},
                },
                customdata=[
                    ["passed" if g["passed"] else "failed", str(g["reason"])] for g in gates
                ],
                hovertemplate="%{y} gate %{customdata[0]}<br>%{x}<br>%{customdata[1]}"
                "<extra></extra>",
            )
        )
    rows = {f"v{v}" for v in by_version} | {f"v{g['version']}" for g in data.gate_reports}
    P.layout(data, fig, height=150 + 45 * max(2, len(rows)))
    fig.update_layout(barmode="overlay", bargap=0.4)
    order = sorted(rows, key=_version_key)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order, automargin=True)
    if not rows:
        P.empty(fig, "no release transitions in this range")
    caption = (
        "Each version's stage over time; markers are transitions (stars: promotions and "
        "deploys, red crosses: rollbacks; hover for who and why), diamonds gate decisions."
    )
    return Chart("releases", "Release timeline", caption, fig)


def _version_key(label: str) -> tuple[int, str]:
    tail = label[1:]
    return (int(tail), "") if tail.isdigit() else (10**9, tail)


def reviews_chart(data: DashboardData) -> Chart:
    """Review progress per bin (sampled predictions labeled, skipped, still pending) above
    the label coverage of the realized windows, with the maturity line."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=("Predictions sampled for review", "Label coverage of realized windows"),
    )
    reviews = data.reviews
    if len(reviews):
        x = P.times(data.bin_time(reviews["bin"], data.review_bin_seconds))
        pending = reviews["sampled"] - reviews["labeled"] - reviews["skipped"]
        for name, values, color in (
            ("labeled", reviews["labeled"], "#2ca02c"),
            ("skipped", reviews["skipped"], "#7f7f7f"),
            ("pending", pending, "#ffbb78"),
        ):
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=values.tolist(),
                    name=name,
                    marker={"color": color},
                    hovertemplate=f"%{{x}}<br>{name} %{{y}}<extra></extra>",
                ),
                row=1,
                col=1,
            )
    series = data.series
    realized = series[
        (series["strategy"] == "realized")
        & series["coverage"].notna()
        & series["metric"].astype(str).str.startswith(DECAY_PREFIX)
    ]
    if realized.empty:
        realized = series[(series["strategy"] == "realized") & series["coverage"].notna()]
    if len(realized):
        first = sorted(set(realized["metric"].astype(str)))[0]
        part = realized[realized["metric"] == first]
        fig.add_trace(
            go.Scatter(
                x=P.times(part["window_end"]),
                y=part["coverage"].tolist(),
                mode="lines+markers",
                name="label coverage",
                line={"color": "#2ca02c"},
                marker={"size": 4},
                hovertemplate="%{x}<br>coverage %{y:.1%}<extra></extra>",
            ),
            row=2,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=[P.t(data.time_range.since), P.t(data.time_range.until)],
                y=[data.label_maturity] * 2,
                mode="lines",
                name=f"maturity {data.label_maturity:.0%}",
                line={"color": "#555", "dash": "dot", "width": 1},
                hoverinfo="skip",
            ),
            row=2,
            col=1,
        )
    P.layout(data, fig, height=500)
    fig.update_layout(barmode="stack", margin={"t": 60}, legend={"y": 1.1})
    fig.update_yaxes(title="predictions", row=1, col=1)
    fig.update_yaxes(title="coverage", tickformat=".0%", range=[0, 1.05], row=2, col=1)
    t = data.review_totals
    title = (
        f"Review progress and label coverage (all time: {t['sampled']} sampled, "
        f"{t['labeled']} labeled, {t['skipped']} skipped, {t['pending']} pending)"
    )
    caption = (
        f"Per {P.duration(data.review_bin_seconds)} bin of prediction time: the predictions "
        "drawn for review and what became of them; below, the share of each realized window's "
        "predictions that has a label (provisional under the maturity line)."
    )
    if reviews.empty and realized.empty:
        P.empty(fig, "no reviews or labels in this range")
    return Chart("reviews", title, caption, fig)
