"""Small helpers shared by the serving tests (reading the store, waiting)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from decayguard.config import (
    DecayguardConfig,
    FeaturesConfig,
    FeatureSpec,
    FeedbackConfig,
    ModelConfig,
    ProjectConfig,
    ServingConfig,
)
from decayguard.processes import free_port
from decayguard.store import create_store_engine
from decayguard.store.schema import predictions

ROOT = Path(__file__).resolve().parents[2]
MLSERVER = ROOT / ".venv-serve" / "bin" / "mlserver"
PG_ADMIN_URL = os.environ.get(
    "DECAYGUARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NUMERIC = ["income", "debt_ratio", "age", "credit_lines", "utilization"]
EMPLOYMENT = ["salaried", "self_employed", "unemployed", "retired"]
SCHEMA = [FeatureSpec(name=n) for n in NUMERIC] + [FeatureSpec(name="employment", dtype="category")]


def applicants(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """The demo scenario's features and a ``default`` label that depends on them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.4, n),
            "debt_ratio": rng.uniform(0, 1, n),
            "age": rng.uniform(21, 75, n),
            "credit_lines": rng.integers(0, 12, n).astype(float),
            "utilization": rng.beta(2, 3, n),
            "employment": rng.choice(EMPLOYMENT, n),
        }
    )
    logit = 3 * frame.debt_ratio + 2 * frame.utilization - 2.5 + (frame.employment == "unemployed")
    label = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int).astype(str)
    return frame, pd.Series(label, name="default")


def sklearn_pipeline(c: float = 1.0):  # type: ignore[no-untyped-def]
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["employment"]),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(C=c, max_iter=500))])


def request_body(row: pd.Series, request_id: str | None = None) -> dict[str, object]:
    """A V2 request with one input per feature (the decayguard runtime's format)."""
    inputs = []
    for name in [*NUMERIC, "employment"]:
        value = row[name]
        datatype = "BYTES" if name == "employment" else "FP64"
        inputs.append(
            {
                "name": name,
                "datatype": datatype,
                "shape": [1],
                "data": [value if datatype == "BYTES" else float(value)],
            }
        )
    body: dict[str, object] = {"inputs": inputs}
    if request_id is not None:
        body["id"] = request_id
    return body


def set_store_reachable(url: str, reachable: bool) -> None:
    """Open or close a PostgreSQL database to new connections, dropping the current ones.

    From the serving process's side this is a real outage: every connection attempt
    is refused by the server ("database ... is not currently accepting connections").
    """
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(reachable).lower()}')
        )
        if not reachable:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": name},
            )
    admin.dispose()


def project_config(
    root: Path,
    store_url: str,
    model_name: str = "credit-default",
    *,
    feature_service: str | None = None,
    feast_url: str = "http://127.0.0.1:1",
    review_share: float = 0.1,
) -> DecayguardConfig:
    """A project whose server listens on free ports and flushes its log quickly."""
    return DecayguardConfig(
        project=ProjectConfig(store_url=store_url),
        model=ModelConfig(name=model_name, entity_key="applicant_id", features=SCHEMA),
        features=FeaturesConfig(feature_service=feature_service, server_url=feast_url),
        feedback=FeedbackConfig(review_share=review_share),
        serving=ServingConfig(
            http_port=free_port(),
            grpc_port=free_port(),
            metrics_port=free_port(),
            log_flush_seconds=0.1,
            log_batch_size=200,
        ),
        root=root,
    )


def stored_rows(url: str, ids: Iterable[str]) -> dict[str, dict[str, object]]:
    """The narrow ``predictions`` rows with these ids, by id."""
    wanted = list(ids)
    engine = create_store_engine(url)
    found: dict[str, dict[str, object]] = {}
    try:
        with engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                for row in conn.execute(sa.select(predictions).where(predictions.c.id.in_(chunk))):
                    found[row.id] = dict(row._mapping)
    finally:
        engine.dispose()
    return found


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def wait_stored(
    url: str, ids: Iterable[str], timeout: float = 20.0
) -> dict[str, dict[str, object]]:
    """Wait until every id is in the store; return what is there when done or timed out."""
    wanted = set(ids)
    rows: dict[str, dict[str, object]] = {}

    def done() -> bool:
        rows.update(stored_rows(url, wanted - set(rows)))
        return wanted <= set(rows)

    wait_for(done, timeout)
    return rows
