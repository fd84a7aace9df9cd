"""The demo's running components, and what one simulated step sends them.

MLServer with the champion, ``feast serve``, the control API and the Prefect stack, started
for the demo's project and stopped in reverse order; labels and reviews delivered through
the control API, as a team's systems and reviewers would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

import httpx
import pandas as pd

from decayguard.config import DecayguardConfig
from decayguard.errors import ServiceError
from decayguard.processes import BackgroundProcess, python_command
from decayguard.sim.targets import Reviewer


@contextlib.contextmanager
def components(cfg: DecayguardConfig) -> Iterator[None]:
    """MLServer with the champion, feast serve, the control API and the Prefect stack."""
    from decayguard.features.server import FeatureServer
    from decayguard.flows.stack import PrefectStack, apply_prefect_env
    from decayguard.serving.process import ServingProcess

    state = cfg.path(cfg.project.state_dir)
    (state / "logs").mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        feast_port = int(cfg.features.server_url.rsplit(":", 1)[1])
        feast = FeatureServer(
            cfg.path(cfg.features.repo_path), port=feast_port, log_path=state / "logs/feast.log"
        )
        feast.start()
        stack.callback(feast.stop)
        serving = ServingProcess.from_config(cfg).start()
        stack.callback(serving.stop)
        api = BackgroundProcess(
            "control-api",
            python_command(
                "decayguard", "api", "--project", str(cfg.root), "--log-level", "warning"
            ),
            state / "logs" / "api.log",
            {},
            cfg.root,
        ).start()
        stack.callback(api.stop)
        prefect = PrefectStack(cfg)
        stack.callback(prefect.down)
        prefect.up()
        apply_prefect_env(cfg)
        serving.wait_ready(timeout=120)
        feast.wait_ready(timeout=120)
        api.wait_http(f"http://127.0.0.1:{cfg.api.port}/healthz", timeout=60)
        yield


def deliver_labels(client: httpx.Client, due: pd.DataFrame) -> int:
    if due.empty:
        return 0
    body = {
        "labels": [
            {"prediction_id": r.prediction_id, "value": str(r.value)} for r in due.itertuples()
        ],
        "source": "simulated-ground-truth",
    }
    response = client.post("/api/v1/labels", json=body)
    if response.status_code != 200:
        raise ServiceError(f"label delivery failed: {response.status_code} {response.text}")
    return len(due)


def answer_reviews(
    client: httpx.Client, truth: pd.Series, reviewer: Reviewer, now: datetime
) -> int:
    """Answer every pending review; ``truth`` is the true label text by prediction id."""
    answered = 0
    while True:
        queue = client.get("/api/v1/reviews/queue", params={"limit": 200})
        queue.raise_for_status()
        items = queue.json()["items"]
        if not items:
            return answered
        for item in items:
            answer = reviewer.review(item["prediction_id"], str(truth[item["prediction_id"]]), now)
            posted = client.post(
                "/api/v1/reviews",
                json={
                    "prediction_id": item["prediction_id"],
                    "reviewer": "simulated-reviewer",
                    "status": "labeled",
                    "value": answer.label,
                },
            )
            if posted.status_code != 201:
                raise ServiceError(f"review failed: {posted.status_code} {posted.text}")
            answered += 1
