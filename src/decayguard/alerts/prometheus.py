"""Prometheus exposition of the latest monitored values, per model and version.

A custom collector reads the store at scrape time, so every control-API process exposes
the same numbers and nothing is cached between scrapes. Gauges:

- ``decayguard_metric_value{model, version, strategy, metric, feature}``: the latest value
  of every metric point (drift statistics, estimated/reviewed/realized performance...);
  ``_lower`` / ``_upper`` carry its confidence interval when it has one;
- ``decayguard_metric_flagged{...}``: 1 when that point was flagged (drift, decay);
- ``decayguard_label_coverage{model, version}``: the latest label coverage;
- ``decayguard_alerts_open{model, rule, severity}``: open incidents.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from decayguard.store.schema import alerts, metric_points

_LABELS = ["model", "version", "strategy", "metric", "feature"]


class StoreCollector(Collector):
    """Collects the latest metric point of each series from the decayguard store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _latest(self) -> list[sa.Row]:  # type: ignore[type-arg]
        mp = metric_points
        latest = (
            sa.select(sa.func.max(mp.c.id).label("id"))
            .group_by(mp.c.model_name, mp.c.model_version, mp.c.strategy, mp.c.metric, mp.c.feature)
            .subquery()
        )
        query = sa.select(mp).join(latest, latest.c.id == mp.c.id)
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        value = GaugeMetricFamily(
            "decayguard_metric_value", "Latest value of a monitored metric", labels=_LABELS
        )
        lower = GaugeMetricFamily(
            "decayguard_metric_lower", "Lower confidence bound of the latest value", labels=_LABELS
        )
        upper = GaugeMetricFamily(
            "decayguard_metric_upper", "Upper confidence bound of the latest value", labels=_LABELS
        )
        flagged = GaugeMetricFamily(
            "decayguard_metric_flagged", "1 if the latest point was flagged", labels=_LABELS
        )
        coverage = GaugeMetricFamily(
            "decayguard_label_coverage",
            "Share of the window's predictions with a label (latest realized metric)",
            labels=["model", "version"],
        )
        covered: set[tuple[str, str]] = set()
        for row in self._latest():
            key = [
                row.model_name,
                row.model_version or "",
                row.strategy,
                row.metric,
                row.feature or "",
            ]
            if row.value is not None:
                value.add_metric(key, float(row.value))
            if row.lower is not None:
                lower.add_metric(key, float(row.lower))
            if row.upper is not None:
                upper.add_metric(key, float(row.upper))
            flagged.add_metric(key, 1.0 if row.flagged else 0.0)
            pair = (row.model_name, row.model_version or "")
            if row.coverage is not None and pair not in covered:
                coverage.add_metric(list(pair), float(row.coverage))
                covered.add(pair)
        open_alerts = GaugeMetricFamily(
            "decayguard_alerts_open", "Open alert incidents", labels=["model", "rule", "severity"]
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(alerts.c.model_name, alerts.c.rule, alerts.c.severity, sa.func.count())
                .where(alerts.c.status == "open")
                .group_by(alerts.c.model_name, alerts.c.rule, alerts.c.severity)
            )
            for model, rule, severity, count in rows:
                open_alerts.add_metric([model, rule, severity], float(count))
        yield from (value, lower, upper, flagged, coverage, open_alerts)
