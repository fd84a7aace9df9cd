"""``GET /metrics``: Prometheus exposition of the latest monitored values (for Grafana, Datadog)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from decayguard.alerts.prometheus import StoreCollector
from decayguard.api.auth import ReadAccess

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    dependencies=[ReadAccess],
    response_class=Response,
    summary="Prometheus metrics: latest monitored values per model and version",
)
def metrics(request: Request) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(request.app.state.engine))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
