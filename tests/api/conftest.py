"""Fixtures of the API suite: the control API over the store under test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from decayguard.api import create_app
from decayguard.store import PredictionRecord, insert_predictions

from .api_support import ApiFactory, applicant_predictions, project_config, serve


@pytest.fixture
def api(store_url: str, store_engine: Engine) -> Iterator[ApiFactory]:
    """Start the control API over the store under test: ``api(**api_settings)`` gives an
    httpx client (no token sent unless asked) bound to a fresh server; ``model={...}`` and
    ``feedback={...}`` override those config sections."""
    stack: list[Any] = []

    def start(**settings: Any) -> httpx.Client:
        app = create_app(project_config(store_url, **settings), engine=store_engine)
        context = serve(app)
        base = context.__enter__()
        client = httpx.Client(base_url=base, timeout=30)
        stack.append((context, client))
        return client

    yield start
    for context, client in reversed(stack):
        client.close()
        context.__exit__(None, None, None)


@pytest.fixture
def seeded(store_engine: Engine) -> list[PredictionRecord]:
    records = applicant_predictions(20)
    insert_predictions(store_engine, records)
    return records


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, headless, with nothing phoning home (never `playwright install`)."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
