"""``decayguard api``: serve the control API (labels, reviews, the review page)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from decayguard.cli.common import ProjectOption, config_for, err_console


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    project: ProjectOption = Path("."),
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: api.host, loopback).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: api.port).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Start the control API (labels, reviews, the review page) for the project.

    JSON API under /api/v1, the review page at /review, the OpenAPI schema at
    /openapi.json. Binds api.host (loopback by default).
    """
    import uvicorn

    from decayguard.api import create_app
    from decayguard.store import create_store_engine, ensure_schema

    cfg = config_for(project)
    bind_host = host or cfg.api.host
    bind_port = port if port is not None else cfg.api.port
    engine = create_store_engine(cfg.resolved_store_url)
    ensure_schema(engine)  # a clear error now rather than a failed startup inside uvicorn
    if not cfg.api.token:
        err_console.print(
            "[yellow]warning:[/yellow] no api.token configured: write endpoints (labels, "
            "reviews) will refuse every request. Set api.token or DECAYGUARD_API__TOKEN.",
            highlight=False,
        )
    if not _is_loopback(bind_host) and not cfg.api.protect_reads:
        err_console.print(
            f"[yellow]warning:[/yellow] binding {bind_host}, reads are open to the network "
            "(set api.protect_reads to require the token)",
            highlight=False,
        )
    err_console.print(
        f"review page: http://{bind_host}:{bind_port}/review   "
        f"OpenAPI: http://{bind_host}:{bind_port}/openapi.json",
        highlight=False,
    )
    uvicorn.run(
        create_app(cfg, engine=engine),
        host=bind_host,
        port=bind_port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
    )
    engine.dispose()
