"""Fixtures of the serving tests: demo models, exported artifacts, a private PostgreSQL
database, and real ``mlserver start`` processes (one per session where possible)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from decayguard.registry import ArtifactManifest, export_model
from decayguard.serving import ServingProcess
from decayguard.store import create_store_engine, upgrade

from .helpers import PG_ADMIN_URL, SCHEMA, applicants, project_config, sklearn_pipeline


@dataclass(frozen=True)
class Artifacts:
    """Exported demo models: two sklearn versions and a LightGBM one."""

    v1: Path
    v2: Path
    lgbm: Path
    frame: pd.DataFrame

    def manifest(self, folder: Path) -> ArtifactManifest:
        return ArtifactManifest.read(folder)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    import lightgbm as lgb

    folder = tmp_path_factory.mktemp("artifacts")
    frame, label = applicants(2000, seed=1)
    v1 = sklearn_pipeline(1.0).fit(frame, label)
    v2 = sklearn_pipeline(0.001).fit(frame.iloc[:500], label.iloc[:500])
    cat = frame.assign(employment=frame.employment.astype("category"))
    gbm = lgb.LGBMClassifier(n_estimators=30, num_leaves=8, verbose=-1).fit(cat, label)
    common = {"model_name": "credit-default", "features": SCHEMA, "reference": frame}
    export_model(v1, folder / "v1", model_version="1", **common)  # type: ignore[arg-type]
    export_model(v2, folder / "v2", model_version="2", **common)  # type: ignore[arg-type]
    export_model(gbm, folder / "lgbm", model_version="3-lgbm", **common)  # type: ignore[arg-type]
    return Artifacts(folder / "v1", folder / "v2", folder / "lgbm", frame)


@pytest.fixture(scope="session")
def serving_pg_url() -> Iterator[str]:
    """A private PostgreSQL database (the outage tests lock it: nobody else may use it)."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"dg_serving_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = create_store_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def server_project(tmp_path_factory: pytest.TempPathFactory, serving_pg_url: str) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="session")
def server(
    server_project: Path, serving_pg_url: str, artifacts: Artifacts
) -> Iterator[ServingProcess]:
    """One MLServer for the session, serving ``credit-default`` (champion v1)."""
    from decayguard.serving import deploy_model

    config = project_config(server_project, serving_pg_url)
    deploy_model(config, artifacts.v1)
    process = ServingProcess.from_config(config)
    process.start()
    try:
        process.wait_ready(90)
        yield process
    finally:
        process.stop()
