"""Links from an alert to the dashboard view of what it is about.

The dashboard is served by the control API at ``/dashboard``; its query parameters name the
view: ``model``, ``metric`` (a metric-point name as the store keeps it: ``drift.ks``,
``prediction_drift.jensen_shannon``, ``estimated.accuracy``, ``realized.accuracy``,
``quality.missing_share``...), ``feature``, and the window ``since`` / ``until`` (ISO 8601 UTC,
``2026-10-20T00:00:00Z``). Parameters left ``None`` are left out.

>>> from decayguard.config import DecayguardConfig
>>> cfg = DecayguardConfig()
>>> cfg.api.public_url = "https://decayguard.example.com/"
>>> dashboard_link(cfg, model="credit-default", metric="drift.ks", feature="income",
...                since=datetime(2026, 10, 19, tzinfo=UTC))
'https://decayguard.example.com/dashboard?model=credit-default&metric=drift.ks&feature=income&since=2026-10-19T00:00:00Z'
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from decayguard.config import DecayguardConfig

__all__ = ["DASHBOARD_PATH", "dashboard_link", "dashboard_url", "link_time"]

DASHBOARD_PATH = "/dashboard"


def link_time(moment: datetime) -> str:
    """A moment as the links carry it: ISO 8601 in UTC, to the second, with ``Z``."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dashboard_url(
    base: str,
    *,
    model: str | None = None,
    metric: str | None = None,
    feature: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """The dashboard view under ``base`` (the control API's public URL)."""
    params = {
        "model": model,
        "metric": metric,
        "feature": feature,
        "since": None if since is None else link_time(since),
        "until": None if until is None else link_time(until),
    }
    query = urlencode({k: v for k, v in params.items() if v is not None}, safe=":")
    return f"{base.rstrip('/')}{DASHBOARD_PATH}" + (f"?{query}" if query else "")


def dashboard_link(
    cfg: DecayguardConfig,
    *,
    model: str | None = None,
    metric: str | None = None,
    feature: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """The dashboard view of the project's model (``model`` defaults to ``model.name``) at
    ``api.public_url``, or ``http://{api.host}:{api.port}`` when that is not set."""
    return dashboard_url(
        cfg.api.base_url,
        model=model or cfg.model.name,
        metric=metric,
        feature=feature,
        since=since,
        until=until,
    )
