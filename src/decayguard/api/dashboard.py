"""``/dashboard``: the monitoring dashboard, its assets (plotly.js served from here, no CDN)
and the JSON it draws from (``/api/v1/dashboard/...``, read access as ``api.protect_reads``).

The page is a plain HTML shell; its script asks ``/api/v1/dashboard/data`` for the charts
(Plotly figures built by :mod:`decayguard.dashboard.charts`, the same ones the report inlines)
of one model and time range, aggregated by the store into at most 500 time bins.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from functools import cache
from string import Template
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import HTMLResponse, Response

from decayguard.api.auth import ReadAccess
from decayguard.api.deps import ConfigDep, EngineDep
from decayguard.dashboard.data import load_dashboard, resolve_range
from decayguard.store.dashboard import model_names

__all__ = ["router"]

router = APIRouter(tags=["dashboard"])

_ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
_PAGE_HEADERS = {
    # Plotly sets inline styles on its SVG; nothing else is allowed off this origin.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_LONG_CACHE = {**_PAGE_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
_SHORT_CACHE = {**_PAGE_HEADERS, "Cache-Control": "no-cache"}
MODEL = Query(
    min_length=1,
    max_length=200,
    pattern=r"^[A-Za-z0-9_.:/-]+$",
    description="The model (default: the project's model).",
)


@cache
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    text: str = get_plotlyjs()
    return text.encode("utf-8")


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(config: ConfigDep) -> HTMLResponse:
    """The dashboard shell (open: the data it fetches is what ``protect_reads`` guards)."""
    from decayguard.dashboard.report import static_text  # plotly loads with it, on first use

    page = Template(static_text("dashboard.html")).substitute(
        model_name=html.escape(config.model.name, quote=True)
    )
    return HTMLResponse(page, headers=_SHORT_CACHE)


@router.get("/dashboard/assets/plotly.min.js", include_in_schema=False)
def plotly_asset() -> Response:
    """plotly.js of the installed ``plotly`` package, cached for a year by the browser."""
    return Response(_plotly_js(), media_type="text/javascript; charset=utf-8", headers=_LONG_CACHE)


@router.get("/dashboard/assets/{name}", include_in_schema=False)
def dashboard_asset(name: str) -> Response:
    from decayguard.dashboard.report import static_text

    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no asset {name!r}")
    return Response(static_text(name), media_type=media_type, headers=_SHORT_CACHE)


@router.get("/api/v1/dashboard/models", dependencies=[ReadAccess])
def get_models(config: ConfigDep, engine: EngineDep) -> list[str]:
    """The models with metric points (the project's model first)."""
    names = model_names(engine)
    first = config.model.name
    return [first, *[n for n in names if n != first]]


def _json(body: Any) -> Response:
    from plotly.utils import PlotlyJSONEncoder  # plotly loads on the first dashboard request

    text = json.dumps(body, cls=PlotlyJSONEncoder, separators=(",", ":"))
    return Response(text, media_type="application/json")


def _records(rows: Any) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in rows
    ]


@router.get("/api/v1/dashboard/data", dependencies=[ReadAccess])
def get_dashboard_data(
    config: ConfigDep,
    engine: EngineDep,
    model: Annotated[str | None, MODEL] = None,
    since: Annotated[
        datetime | None,
        Query(description="Start (window end, inclusive); default: 90 days before until."),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(description="End (exclusive); default: just after the latest point."),
    ] = None,
    max_bins: Annotated[
        int, Query(ge=10, le=2000, description="Time bins per chart at most.")
    ] = 500,
    limit: Annotated[
        int, Query(ge=1, le=5000, description="Rows per decision list at most.")
    ] = 200,
) -> Response:
    """Every chart of the dashboard as Plotly figures, plus the latest decisions: release
    transitions, gate reports, incidents and raised flags (``limit`` each). A range longer
    than 400 days, or an ``until`` not after ``since``, is a 422 naming the parameter."""
    name = model or config.model.name
    time_range = resolve_range(engine, name, since, until)
    data = load_dashboard(
        engine,
        config,
        time_range,
        model_name=name,
        max_bins=max_bins,
        event_limit=limit,
        decision_limit=limit,
    )
    from decayguard.dashboard.charts import build_charts

    charts = build_charts(data)
    flagged = data.decisions[data.decisions["flagged"].astype(bool)]
    body = {
        "model": name,
        "since": time_range.since.isoformat(),
        "until": time_range.until.isoformat(),
        "bin_seconds": data.bin_seconds,
        "bin_label": _bin_label(data.bin_seconds),
        "points": sum(c.points for c in charts),
        "charts": [c.to_dict() for c in charts],
        "decisions": {
            "transitions": _records(reversed(data.transitions)),
            "gate_reports": [
                {k: v for k, v in g.items() if k != "report"} for g in reversed(data.gate_reports)
            ],
            "incidents": _records(reversed(data.incidents)),
            "flagged": _records(flagged.head(limit).to_dict("records")),
        },
    }
    return _json(body)


def _bin_label(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}-day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    return f"{seconds // 60}-minute"
