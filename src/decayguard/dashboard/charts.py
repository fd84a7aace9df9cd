"""The dashboard's charts as Plotly figures, built from :class:`~.data.DashboardData`.

The same figures are drawn by the dashboard page (as JSON through the API) and inlined in
the report: one chart code for both. This module draws the monitored figures (performance
per strategy, proxy signals, drift per feature); :mod:`.timelines` the events (incidents,
releases, reviews and labels).
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from decayguard.dashboard import _plot as P
from decayguard.dashboard._plot import Chart
from decayguard.dashboard.data import DECAY_PREFIX, PERFORMANCE_PREFIXES, DashboardData
from decayguard.dashboard.timelines import incidents_chart, release_chart, reviews_chart

__all__ = ["Chart", "build_charts", "drift_chart", "performance_chart", "proxy_chart"]

DENSE = 120
"""Points per series beyond which markers give way to a line (and heatmap flags to dots)."""


def performance_chart(data: DashboardData, metric: str) -> Chart:
    """One performance figure through the three strategies: each a line with its interval
    band, provisional windows as open markers, decayed windows as red crosses, and the
    decay threshold as a dashed line."""
    fig = go.Figure()
    series = data.series
    several = len(P.versions(series)) > 1 if len(series) else False
    drawn = 0
    for strategy, prefix in PERFORMANCE_PREFIXES.items():
        rows = series[(series["strategy"] == strategy) & (series["metric"] == prefix + metric)]
        decays = series[
            (series["strategy"] == strategy)
            & (series["metric"] == DECAY_PREFIX + metric)
            & series["flagged"]
        ]
        for version in P.versions(rows):
            part = P.of_version(rows, version)
            label = P.STRATEGY_LABELS[strategy] + (f" (v{version})" if several else "")
            x = P.times(part["window_end"])
            banded = part["lower"].notna() & part["upper"].notna()
            if banded.any():
                bx = [xi for xi, b in zip(x, banded, strict=True) if b]
                fig.add_trace(
                    go.Scatter(
                        x=bx,
                        y=part.loc[banded, "lower"].tolist(),
                        mode="lines",
                        line={"width": 0},
                        hoverinfo="skip",
                        showlegend=False,
                        legendgroup=label,
                    )
                )
                fig.add_trace(
                    go.Scatter(
                        x=bx,
                        y=part.loc[banded, "upper"].tolist(),
                        mode="lines",
                        line={"width": 0},
                        fill="tonexty",
                        fillcolor=P.BANDS[strategy],
                        hoverinfo="skip",
                        name=f"{label}: 95% interval",
                        legendgroup=label,
                        showlegend=False,
                    )
                )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=part["value"].tolist(),
                    mode="lines+markers",
                    name=label,
                    legendgroup=label,
                    line={"color": P.STRATEGY_COLORS[strategy], "width": 2},
                    marker={
                        # dense series: a line, with markers only on provisional windows
                        "size": [
                            6 if p else (0 if len(part) > DENSE else 5) for p in part["provisional"]
                        ],
                        "symbol": ["circle-open" if p else "circle" for p in part["provisional"]],
                    },
                    customdata=list(zip(part["lower"], part["upper"], part["n"], strict=True)),
                    hovertemplate=f"{label}<br>%{{x}}<br>{metric} %{{y:.4f}} "
                    "[%{customdata[0]:.4f}, %{customdata[1]:.4f}]<br>n=%{customdata[2]}"
                    "<extra></extra>",
                )
            )
            drawn += 1
            flagged = P.of_version(decays, version)
            if len(flagged):
                fig.add_trace(
                    go.Scatter(
                        x=P.times(flagged["window_end"]),
                        y=flagged["value"].tolist(),
                        mode="markers",
                        name=f"{label}: decayed",
                        legendgroup=label,
                        marker={
                            "symbol": "x",
                            "size": 10 if len(flagged) <= DENSE else 6,
                            "color": P.FLAG_COLOR,
                        },
                        hovertemplate=f"decayed ({label})<br>%{{x}}<br>%{{y:.4f}}<extra></extra>",
                    )
                )
    threshold = data.thresholds.get(metric)
    if threshold is not None:
        side = "above" if metric in data.lower_is_better else "below"
        fig.add_trace(
            go.Scatter(
                x=[P.t(data.time_range.since), P.t(data.time_range.until)],
                y=[threshold, threshold],
                mode="lines",
                name=f"threshold {threshold:g} (decayed {side})",
                line={"color": P.FLAG_COLOR, "dash": "dash", "width": 1.5},
                hoverinfo="skip",
            )
        )
    P.layout(data, fig, height=330, y_title=metric)
    if not drawn:
        P.empty(fig, f"no {metric} figures in this range")
    caption = (
        f"{metric} per window, with its 95% interval, from the label-free estimate, human "
        "reviews and realized labels; open markers are provisional (labels not mature yet), "
        "red crosses windows judged decayed."
    )
    return Chart(f"performance-{metric}", f"Performance: {metric}", caption, fig)


def proxy_chart(data: DashboardData) -> Chart:
    """Model-level proxy signals other than the performance estimate (the multivariate
    reconstruction error...), one panel each, flagged windows marked."""
    series = data.series
    taken = {p + m for p in PERFORMANCE_PREFIXES.values() for m in data.performance_metrics()}
    rows = series[
        (series["strategy"] == "proxy")
        & ~series["metric"].isin(taken)
        & ~series["metric"].astype(str).str.startswith(DECAY_PREFIX)
    ]
    metrics = sorted(set(rows["metric"].astype(str)))
    fig = make_subplots(
        rows=max(1, len(metrics)),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=metrics or None,
    )
    for i, metric in enumerate(metrics, start=1):
        part = rows[rows["metric"] == metric]
        x = P.times(part["window_end"])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=part["value"].tolist(),
                mode="lines",
                name=metric,
                line={"color": "#555", "width": 1.5},
                showlegend=False,
                hovertemplate=f"{metric}<br>%{{x}}<br>%{{y:.4f}}<extra></extra>",
            ),
            row=i,
            col=1,
        )
        hit = part[part["flagged"]]
        if len(hit):
            fig.add_trace(
                go.Scatter(
                    x=P.times(hit["window_end"]),
                    y=hit["value"].tolist(),
                    mode="markers",
                    name="flagged",
                    marker={"symbol": "x", "size": 9, "color": P.FLAG_COLOR},
                    showlegend=i == 1,
                    hovertemplate=f"flagged: {metric}<br>%{{x}}<br>%{{y:.4f}}<extra></extra>",
                ),
                row=i,
                col=1,
            )
    P.layout(data, fig, height=150 + 140 * max(1, len(metrics)))
    if not metrics:
        P.empty(fig, "no other proxy signals in this range")
    caption = (
        "Label-free signals of the whole model (multivariate drift...), flagged windows in red."
    )
    return Chart("proxy", "Proxy signals", caption, fig)


def drift_chart(data: DashboardData) -> Chart:
    """Drift per feature over time: the Jensen-Shannon distance per feature and time bin
    (the prediction outputs first), crosses where the feature's drift rule flagged it."""
    matrix = data.drift
    fig = go.Figure()
    x = P.times(matrix.times)
    if matrix.features:
        peak = max((v for row in matrix.values for v in row if v is not None), default=0.0)
        fig.add_trace(
            go.Heatmap(
                z=matrix.values,
                x=x,
                y=matrix.features,
                colorscale="YlOrRd",
                zmin=0,
                zmax=max(0.2, peak),
                colorbar={"title": {"text": "JS dist."}, "thickness": 12},
                hovertemplate="%{y}<br>%{x}<br>Jensen-Shannon %{z:.3f}<extra></extra>",
                hoverongaps=False,
                xgap=0,
                ygap=1,
            )
        )
        fx: list[str] = []
        fy: list[str] = []
        for i, feature in enumerate(matrix.features):
            for j, flag in enumerate(matrix.flagged[i]):
                if flag:
                    fx.append(x[j])
                    fy.append(feature)
        if fx:
            fig.add_trace(
                go.Scatter(
                    x=fx,
                    y=fy,
                    mode="markers",
                    name="flagged by the drift rule",
                    marker=(
                        {"symbol": "circle", "size": 3, "color": "#222"}
                        if len(x) > DENSE
                        else {
                            "symbol": "x-thin",
                            "size": 6,
                            "line": {"width": 1.5, "color": "#222"},
                        }
                    ),
                    hovertemplate="%{y}: drift flagged<br>%{x}<extra></extra>",
                )
            )
    P.layout(data, fig, height=140 + 20 * max(3, len(matrix.features)))
    fig.update_layout(legend={"y": 1.0, "yanchor": "bottom"})
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    if not matrix.features:
        P.empty(fig, "no drift points in this range")
    caption = (
        f"Jensen-Shannon distance of each feature (and each prediction output) to the "
        f"reference, per {P.duration(data.bin_seconds)} bin; marked: windows flagged by the "
        "drift rule."
    )
    return Chart("drift", "Drift per feature", caption, fig)


def build_charts(data: DashboardData) -> list[Chart]:
    """Every chart, in page order: performance (thresholded metrics first), proxy signals,
    drift per feature, incidents, releases, reviews and labels."""
    charts: list[Chart] = [performance_chart(data, m) for m in data.performance_metrics()]
    if not charts:
        charts.append(performance_chart(data, next(iter(data.thresholds), "accuracy")))
    charts += [
        proxy_chart(data),
        drift_chart(data),
        incidents_chart(data),
        release_chart(data),
        reviews_chart(data),
    ]
    return charts
