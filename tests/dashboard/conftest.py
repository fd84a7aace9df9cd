"""Fixtures of the dashboard suite: Debian's Chromium, the synthetic 90-day store and a
real demo project (both built once per session), a control API served over either."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from decayguard.api import create_app
from decayguard.config import DecayguardConfig, load_config
from decayguard.store import create_store_engine, upgrade

from ..api.api_support import serve
from .worlds import SYNTHETIC_MODEL, DemoProject, build_demo_project, write_synthetic

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path("/tmp/dashboard-shots")


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


def synthetic_config(store_url: str, **api: Any) -> DecayguardConfig:
    return DecayguardConfig(
        project={"store_url": store_url},
        model={"name": SYNTHETIC_MODEL, "target": "y"},
        monitoring={"performance_thresholds": {"accuracy": 0.8}},
        api={"token": "dashboard-token", **api},
    )


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """90 days of hourly points for 30 features (about 214,000 metric points) in SQLite."""
    url = f"sqlite:///{tmp_path_factory.mktemp('synthetic') / 'store.db'}"
    engine = create_store_engine(url)
    upgrade(engine)
    write_synthetic(engine)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> DemoProject:
    return build_demo_project(tmp_path_factory.mktemp("demo") / "project")


ServeFactory = Callable[[DecayguardConfig], AbstractContextManager[str]]


@pytest.fixture
def served() -> ServeFactory:
    """``with served(cfg) as base_url:`` the control API of ``cfg`` on a free port."""

    def start(cfg: DecayguardConfig) -> AbstractContextManager[str]:
        return serve(create_app(cfg))

    return start


@pytest.fixture
def demo_config(demo_project: DemoProject) -> DecayguardConfig:
    return load_config(demo_project.world.folder)


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
