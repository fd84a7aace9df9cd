"""The self-contained HTML report: the dashboard's charts and every decision with its reason.

One file, plotly.js inlined, the figures as JSON beside it, and a Content-Security-Policy
that forbids every fetch: it opens the same with no network. Decisions listed: every decay
decision (raised or not), every raised drift flag, every gate report, every release
transition and every incident of the range.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from plotly.offline import get_plotlyjs
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy.engine import Engine

from decayguard.config import DecayguardConfig
from decayguard.dashboard._plot import duration
from decayguard.dashboard.charts import Chart, build_charts
from decayguard.dashboard.data import DECAY_PREFIX, DashboardData, load_dashboard, resolve_range

__all__ = ["REPORT_CSP", "figures_json", "render_report", "write_report"]

REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
"""The report's own policy: inline code only, no request to anywhere."""


@cache
def static_text(name: str) -> str:
    """A file of the dashboard's ``static`` folder (page template, script, style)."""
    return (resources.files("decayguard.dashboard") / "static" / name).read_text(encoding="utf-8")


def figures_json(charts: Sequence[Chart]) -> str:
    """The charts as a JSON array, safe to put inside a ``<script>`` element."""
    text = json.dumps([c.to_dict() for c in charts], cls=PlotlyJSONEncoder, separators=(",", ":"))
    return text.replace("</", "<\\/")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime | pd.Timestamp):
        return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dict | list):
        return html.escape(json.dumps(value, default=str, sort_keys=True))
    return html.escape(str(value))


def _table(
    caption: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str,
    table_id: str,
    note: str = "",
) -> str:
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    if not body:
        return f'<h3>{html.escape(caption)}</h3><p class="empty" id="{table_id}">{empty}</p>'
    extra = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return (
        f'<h3>{html.escape(caption)}</h3>{extra}<table id="{table_id}"><thead><tr>{head}'
        f"</tr></thead><tbody>{body}</tbody></table>"
    )


def _interval(row: Any) -> str:
    if pd.isna(row.lower) or pd.isna(row.upper):
        return ""
    return f"[{row.lower:.4g}, {row.upper:.4g}]"


def _truncation(data: DashboardData, key: str) -> str:
    if data.truncated.get(key):
        return "Only the latest rows are listed: narrow the range with --since/--until."
    return ""


def decision_sections(data: DashboardData) -> str:
    """Every decision of the range as HTML tables, newest first, each with its reason."""
    decisions = data.decisions
    is_decay = decisions["metric"].astype(str).str.startswith(DECAY_PREFIX)
    decays = decisions[is_decay]
    flags = decisions[~is_decay]
    out = [
        _table(
            "Decay decisions",
            [
                "window end",
                "strategy",
                "metric",
                "version",
                "value",
                "interval",
                "n",
                "decayed",
                "reason",
            ],
            (
                (
                    r.window_end,
                    r.strategy,
                    str(r.metric)[len(DECAY_PREFIX) :],
                    r.model_version,
                    r.value,
                    _interval(r),
                    r.n,
                    "yes" if r.flagged else "no",
                    r.reason,
                )
                for r in decays.itertuples()
            ),
            empty="No decay decision in this range.",
            table_id="decay-decisions",
            note=_truncation(data, "decay_decisions"),
        ),
        _table(
            "Drift and proxy flags",
            ["window end", "metric", "feature", "version", "value", "n", "reason"],
            (
                (r.window_end, r.metric, r.feature, r.model_version, r.value, r.n, r.reason)
                for r in flags.itertuples()
            ),
            empty="No drift or proxy flag in this range.",
            table_id="drift-flags",
            note=_truncation(data, "drift_flags"),
        ),
        _table(
            "Gate reports",
            ["time", "version", "against champion", "passed", "reason"],
            (
                (
                    g["created_at"],
                    g["version"],
                    g["champion_version"],
                    "yes" if g["passed"] else "no",
                    g["reason"],
                )
                for g in reversed(data.gate_reports)
            ),
            empty="No gate decision in this range.",
            table_id="gate-reports",
            note=_truncation(data, "gate_reports"),
        ),
        _table(
            "Release transitions",
            ["time", "version", "from", "to", "action", "actor", "reason", "evidence"],
            (
                (
                    t["created_at"],
                    t["version"],
                    t["from_stage"],
                    t["to_stage"],
                    t["action"],
                    t["actor"],
                    t["reason"],
                    t["evidence"],
                )
                for t in reversed(data.transitions)
            ),
            empty="No release transition in this range.",
            table_id="release-transitions",
            note=_truncation(data, "transitions"),
        ),
        _table(
            "Incidents",
            ["opened", "resolved", "rule", "severity", "status", "message"],
            (
                (
                    i["opened_at"],
                    i["resolved_at"],
                    i["rule"],
                    i["severity"],
                    i["status"],
                    i["message"],
                )
                for i in reversed(data.incidents)
            ),
            empty="No incident in this range.",
            table_id="incidents-table",
            note=_truncation(data, "incidents"),
        ),
    ]
    return "\n".join(out)


def chart_sections(charts: Sequence[Chart]) -> str:
    """One titled block per chart, its plot filled in by the page's script."""
    return "\n".join(
        f'<section class="chart"><h2>{html.escape(c.title)}</h2>'
        f'<p class="caption">{html.escape(c.caption)}</p>'
        f'<div class="plot" id="chart-{html.escape(c.id)}"></div></section>'
        for c in charts
    )


def render_report(
    data: DashboardData,
    charts: Sequence[Chart] | None = None,
    *,
    generated_at: datetime | None = None,
    plotly_js: Callable[[], str] = get_plotlyjs,
) -> str:
    """The report as one HTML document."""
    charts = list(charts if charts is not None else build_charts(data))
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    r = data.time_range
    heading = (
        f"{html.escape(data.model_name)}: {r.since:%Y-%m-%d %H:%M} to {r.until:%Y-%m-%d %H:%M} UTC"
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>decayguard report: {html.escape(data.model_name)}</title>"
        f'<style>{static_text("dashboard.css")}</style></head>\n<body class="report">'
        f'<header><h1>decayguard report</h1><p class="range">{heading}</p>'
        f'<p class="meta">Generated {when}; points in {duration(data.bin_seconds)} bins. '
        "Every time is UTC.</p></header>\n<main>"
        f'{chart_sections(charts)}\n<section class="decisions"><h2>Decisions</h2>'
        f"{decision_sections(data)}</section></main>\n"
        f"<script>{plotly_js()}</script>\n"
        f'<script type="application/json" id="charts-data">{figures_json(charts)}</script>\n'
        f"<script>{static_text('render.js')}\n"
        "decayguardRender(JSON.parse(document.getElementById('charts-data').textContent));"
        "</script>\n</body></html>\n"
    )


def write_report(
    engine: Engine,
    cfg: DecayguardConfig,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    model_name: str | None = None,
) -> DashboardData:
    """Write the report of ``[since, until)`` (default: the dashboard's range) to ``out``."""
    name = model_name or cfg.model.name
    data = load_dashboard(engine, cfg, resolve_range(engine, name, since, until), model_name=name)
    out.write_text(render_report(data), encoding="utf-8")
    return data
