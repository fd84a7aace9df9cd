"""The control-plane REST API and web pages (FastAPI; control environment only).

``create_app(config)`` builds the app: ``/api/v1/labels``, ``/api/v1/reviews``,
``/api/v1/performance``, the review page at ``/review``, ``/healthz`` and the OpenAPI
schema at ``/openapi.json``. ``decayguard api`` serves it with uvicorn.
"""

from decayguard.api.app import create_app

__all__ = ["create_app"]
