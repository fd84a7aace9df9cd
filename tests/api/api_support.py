"""Helpers of the API suite: a real uvicorn server on a free port, a project config,
loan-default predictions."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from decayguard.config import DecayguardConfig
from decayguard.store import PredictionRecord

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


def project_config(store_url: str, **api: Any) -> DecayguardConfig:
    return DecayguardConfig(
        project={"store_url": store_url},
        model={"name": MODEL, "target": "default", "entity_key": "applicant_id"},
        api={"token": TOKEN, **api},
    )


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
