"""The control API's app factory: one router per concern, one error boundary.

Errors a caller can cause are answered with a 4xx naming the field
(``{"error": "labels[0].value: Field required", "field": "labels[0].value",
"detail": [...]}``), never with a 500 or a traceback. More routers (``/metrics``,
admin actions) are added with ``app.include_router`` on the returned app.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from decayguard.api import dashboard, labels, metrics, pages, performance, releases, reviews
from decayguard.config import DecayguardConfig
from decayguard.errors import DecayguardError, InputValidationError, StoreError
from decayguard.feedback.review import PredictionNotFound, ReviewLeases
from decayguard.release.stages import IllegalTransition
from decayguard.store import create_store_engine, ensure_schema

__all__ = ["ErrorOut", "create_app", "field_path"]


class ErrorOut(BaseModel):
    """Every error answer: a one-line ``error``, the offending ``field`` when there is one,
    and the full validation ``detail`` for 422s."""

    error: str
    field: str | None = None
    detail: Any = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid bearer token"},
    403: {"model": ErrorOut, "description": "No api.token configured for this endpoint"},
    404: {"model": ErrorOut, "description": "Unknown prediction id"},
    422: {"model": ErrorOut, "description": "Invalid request; `field` names the culprit"},
    503: {"model": ErrorOut, "description": "The store is unavailable"},
}
RELEASE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {
        "model": ErrorOut,
        "description": "Not allowed from the version's stage; `field` is `version`",
    },
}


def field_path(loc: Sequence[Any]) -> str:
    """``("body", "labels", 0, "value")`` -> ``labels[0].value``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first: dict[str, Any] = (
        dict(errors[0]) if errors else {"loc": ("body",), "msg": "invalid request"}
    )
    field = field_path(first["loc"])
    message = first["msg"]
    if first.get("type") == "json_invalid":
        field = "body"
        message = f"not valid JSON: {first.get('ctx', {}).get('error', message)}"
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "error": f"{field}: {message}",
            "field": field,
            "detail": jsonable_encoder(errors, custom_encoder={Exception: str}),
        },
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONResponse(
        status_code=exc.status_code,
        content={"error": detail, "detail": exc.detail},
        headers=exc.headers,
    )


def _input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputValidationError)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"error": str(exc), "field": exc.field},
    )


def _not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PredictionNotFound)
    return JSONResponse(
        status_code=status.HTTP_404_NOT_FOUND,
        content={"error": str(exc), "field": "prediction_id", "detail": str(exc)},
    )


def _illegal_transition(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IllegalTransition)
    return JSONResponse(
        status_code=status.HTTP_409_CONFLICT,
        content={"error": str(exc), "field": "version", "detail": str(exc)},
    )


def _store_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"error": f"the store is unavailable: {exc}"},
    )


def _store_unreachable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, sa.exc.OperationalError)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"error": f"the store is unavailable: {exc.orig}"},
    )


def _decayguard_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=status.HTTP_400_BAD_REQUEST, content={"error": str(exc)})


def create_app(config: DecayguardConfig, *, engine: Engine | None = None) -> FastAPI:
    """Build the control API for a project.

    ``engine`` defaults to the project's store (``project.store_url``), which must be at
    the latest schema (checked at startup: run ``decayguard store upgrade`` first).
    """
    store = engine if engine is not None else create_store_engine(config.resolved_store_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_schema(store)
        yield
        if engine is None:
            store.dispose()

    app = FastAPI(
        title="decayguard control API",
        summary="Ground truth, human review, performance and releases of a monitored model.",
        version="1",
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.engine = store
    app.state.label_lock = threading.Lock()
    app.state.review_leases = ReviewLeases(config.feedback.review_lease_seconds)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InputValidationError, _input_error)
    app.add_exception_handler(PredictionNotFound, _not_found)
    app.add_exception_handler(IllegalTransition, _illegal_transition)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(sa.exc.OperationalError, _store_unreachable)
    app.add_exception_handler(DecayguardError, _decayguard_error)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in (labels.router, reviews.router, performance.router):
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(releases.router, responses=RELEASE_RESPONSES)
    app.include_router(dashboard.router, responses=ERROR_RESPONSES)
    for router in (pages.router, metrics.router):
        app.include_router(router)
    return app
