"""Bearer-token protection of the control API.

Write endpoints (labels, reviews, admin actions) always need the token configured as
``api.token`` (or ``DECAYGUARD_API__TOKEN``); with no token configured, writes are
refused rather than left open. Read endpoints are open unless ``api.protect_reads``.
Tokens are compared in constant time.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from decayguard.config import DecayguardConfig

__all__ = ["ReadAccess", "WriteAccess", "require_read", "require_write"]

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="The control API token (`api.token` in decayguard.yaml).",
)


def _config(request: Request) -> DecayguardConfig:
    config: DecayguardConfig = request.app.state.config
    return config


def _check(config: DecayguardConfig, credentials: HTTPAuthorizationCredentials | None) -> None:
    expected = config.api.token
    if not expected:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="this endpoint needs a token, and none is configured: set api.token "
            "in decayguard.yaml or DECAYGUARD_API__TOKEN",
        )
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token (Authorization: Bearer <api.token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="invalid bearer token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


def require_write(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """Dependency of every write endpoint: a valid bearer token."""
    _check(_config(request), credentials)


def require_read(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """Dependency of every read endpoint: open, or a valid token if ``api.protect_reads``."""
    config = _config(request)
    if config.api.protect_reads:
        _check(config, credentials)


WriteAccess = Depends(require_write)
ReadAccess = Depends(require_read)
