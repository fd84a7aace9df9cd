"""``/metrics`` on the control API exposes the latest monitored values per model and version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from decayguard.alerts import IncidentTracker, RecordingNotifier, Signal
from decayguard.api.app import create_app
from decayguard.config import DecayguardConfig
from decayguard.store import MetricPoint, write_metric_points

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _point(metric: str, value: float, end: datetime, **kw: object) -> MetricPoint:
    return MetricPoint(
        model_name="credit-default",
        window_start=end - timedelta(days=1),
        window_end=end,
        strategy=str(kw.pop("strategy", "labels")),
        metric=metric,
        value=value,
        model_version=str(kw.pop("version", "3")),
        **kw,  # type: ignore[arg-type]
    )


def test_metrics_expose_the_latest_value_interval_flag_and_open_alerts(
    store_engine: Engine,
) -> None:
    write_metric_points(
        store_engine,
        [
            _point("realized.accuracy", 0.86, T0, lower=0.83, upper=0.89, coverage=0.4),
            _point(
                "realized.accuracy",
                0.71,
                T0 + timedelta(days=1),
                lower=0.68,
                upper=0.74,
                coverage=0.6,
                flagged=True,
            ),
            _point("drift.ks", 0.21, T0, strategy="proxy", feature="income", flagged=True),
            _point("realized.accuracy", 0.9, T0, version="2"),
        ],
    )
    IncidentTracker(store_engine, RecordingNotifier(), timedelta(hours=1)).process(
        [Signal("credit-default", "decay.labels", True, "critical", "decayed")]
    )
    cfg = DecayguardConfig()
    with TestClient(create_app(cfg, engine=store_engine)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }

    def get(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    acc = {
        "model": "credit-default",
        "version": "3",
        "strategy": "labels",
        "metric": "realized.accuracy",
        "feature": "",
    }
    assert get("decayguard_metric_value", **acc) == 0.71  # the latest point wins
    assert get("decayguard_metric_upper", **acc) == 0.74
    assert get("decayguard_metric_flagged", **acc) == 1.0
    assert get("decayguard_metric_value", **{**acc, "version": "2"}) == 0.9
    ks = {
        "model": "credit-default",
        "version": "3",
        "strategy": "proxy",
        "metric": "drift.ks",
        "feature": "income",
    }
    assert get("decayguard_metric_flagged", **ks) == 1.0
    assert (
        get(
            "decayguard_alerts_open",
            model="credit-default",
            rule="decay.labels",
            severity="critical",
        )
        == 1.0
    )
