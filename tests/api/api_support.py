"""Helpers of the API suite: a real uvicorn server on a free port, a project config,
loan-default predictions."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from decayguard.config import DecayguardConfig, FeatureSpec
from decayguard.registry.manifest import ArtifactManifest
from decayguard.store import PredictionRecord, record_deployment

MODEL = "credit-default"
TOKEN = "s3cret-review-token"
T0 = datetime(2026, 11, 2, tzinfo=UTC)
EMPLOYMENT = ("salaried", "self_employed", "unemployed", "retired")


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the control API did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def project_config(
    store_url: str,
    *,
    model: dict[str, Any] | None = None,
    feedback: dict[str, Any] | None = None,
    **api: Any,
) -> DecayguardConfig:
    """The test project; ``model`` and ``feedback`` override those sections' keys."""
    return DecayguardConfig(
        project={"store_url": store_url},
        model={"name": MODEL, "target": "default", "entity_key": "applicant_id", **(model or {})},
        feedback=feedback or {},
        api={"token": TOKEN, **api},
    )


GRADES = ("A", "B", "C", "D")
TASK_MODELS: dict[str, dict[str, Any]] = {
    "binary": {},
    "regression": {"task": "regression", "target": "loss_amount"},
    "multiclass": {"task": "multiclass", "target": "risk_grade"},
}
"""The ``model`` settings of the loan model as each task."""


def task_predictions(task: str, n: int, *, sampled_every: int = 2) -> list[PredictionRecord]:
    """The loan predictions of :func:`applicant_predictions` as a ``task`` model answers
    them: a default (binary), a loss amount (regression) or a risk grade A-D (multiclass)."""
    records = applicant_predictions(n, sampled_every=sampled_every)
    return [replace(r, **_TASK_OUTPUTS[task](i, r.score or 0.0)) for i, r in enumerate(records)]


def _binary_outputs(i: int, score: float) -> dict[str, Any]:
    return {}


def _loss_outputs(i: int, score: float) -> dict[str, Any]:
    amount = round(2_000.0 + 9_000.0 * score, 2)
    return {"outputs": {"value": amount}, "prediction": repr(amount), "score": None}


def _grade_outputs(i: int, score: float) -> dict[str, Any]:
    raw = [1.0 + ((i + 3 * j) % 4) for j in range(4)]
    proba = [round(v / sum(raw), 3) for v in raw]
    best = max(range(4), key=lambda j: proba[j])
    return {
        "outputs": {f"proba_{g}": p for g, p in zip(GRADES, proba, strict=True)},
        "prediction": GRADES[best],
        "score": proba[best],
    }


_TASK_OUTPUTS = {
    "binary": _binary_outputs,
    "regression": _loss_outputs,
    "multiclass": _grade_outputs,
}


def applicant_predictions(n: int, *, sampled_every: int = 2, prefix: str = "req") -> list:
    """Deterministic loan-default predictions; every ``sampled_every``-th is sampled."""
    records = []
    for i in range(n):
        score = round(0.15 + 0.7 * ((i * 37) % 100) / 100, 3)
        records.append(
            PredictionRecord(
                id=f"{prefix}-{i:04d}",
                ts=T0 + timedelta(minutes=10 * i),
                model_name=MODEL,
                model_version="3",
                arm="champion",
                inputs={
                    "income": 30_000.0 + 1_250.0 * i,
                    "debt_ratio": round(0.05 * (i % 17), 2),
                    "age": float(25 + i % 40),
                    "credit_lines": float(i % 9),
                    "utilization": round(0.03 * (i % 31), 2),
                    "employment": EMPLOYMENT[i % 4],
                },
                outputs={"proba_0": round(1 - score, 3), "proba_1": score},
                prediction="1" if score >= 0.5 else "0",
                score=score,
                inclusion_prob=0.5 if abs(score - 0.5) < 0.2 else 0.1,
                review_sampled=i % sampled_every == 0,
                entity_key=str(5000 + i),
            )
        )
    return records


AUTH = {"Authorization": f"Bearer {TOKEN}"}


ApiFactory = Callable[..., httpx.Client]


def deploy_champion(
    engine: Engine, folder: Path, task: str, classes: list[str], version: str = "4"
) -> None:
    """Record a champion deployment whose exported manifest (no model file) names ``classes``."""
    folder.mkdir(parents=True)
    ArtifactManifest(
        model_name=MODEL,
        model_version=version,
        flavor="skops",
        artifact="model.skops",
        sha256="0" * 64,
        task=task,  # type: ignore[arg-type]
        features=[FeatureSpec(name="income")],
        classes=classes,
    ).write(folder)
    record_deployment(engine, MODEL, version, artifact_uri=str(folder))
