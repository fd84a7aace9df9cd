"""Retraining benchmark: from one decay event to a registered ``challenger``, then a storm.

Builds a served world (``build_retrain_world``: Feast repo, released champion, 20 simulated
days of traffic and labels), starts the project's own Prefect stack exactly as
``decayguard up`` does (a Prefect server on SQLite with a fresh home in the project's state
folder, and the flow runner serving the monitor and retrain deployments, polling every 1 s),
with the real MLflow registry (embedded SQLite). Then:

1. **One decay event**, POSTed to the server's events API as the monitor flow would emit it.
   Measured: ``event_to_challenger_s`` (the event's time to the retraining's registered row,
   i.e. the ``challenger`` alias set in MLflow), split into ``trigger_latency_s`` (event to
   the flow run's start, from the Prefect API: automation, flow-run creation, runner poll,
   the run's process start and imports; ``event_to_run_created_s`` is its first part),
   ``flow_startup_s`` (flow run start to the store claim: process start, imports, config),
   ``training_set_s`` (labels + Feast point-in-time join), ``fit_s`` (the user's function),
   ``export_s`` (the fit's child process minus the fit: start-up, hash-pinned export),
   ``score_s`` (both models on the holdout) and ``register_s`` (MLflow: the first call
   creates its tables, imports the serving champion as v1, logs the run and its datasets,
   registers v2). The split comes from ``RetrainOutcome.timings``, stored by the core in
   ``training_runs.details``. Goal: at most 30 s excluding the fit.
2. **A storm**: 20 decay events in 10 s, in a fresh trigger window and past the cooldown on
   the simulated clock. Counted: ``storm_flow_runs`` and ``storm_trainings`` (registered
   retrainings; goal exactly 1); its training's split (``storm_*_s``) is the warm case
   (MLflow's tables exist, the champion is imported).

``training.trigger_window_minutes`` is 0.5 here (the default is 60) so that the storm can start
in a new window half a minute after the first event.

Measured here (2 shared cores, 2026-12-01, three runs at load 1.5 / 1.1 / 3.5):
``event_to_challenger_s`` 15.5 / 22.1 / 29.1 with ``fit_s`` 0.04-0.2, so 0.52 / 0.73 / 0.97
of the 30 s goal; the trigger (event to run start) 6.1 / 11.1 / 5.7 s, of which the triggers
service takes ~2.6 s and the run's process ~3.4 s of imports; ``storm_trainings`` 1 every
time (1, 2 and 1 flow runs: the extra one CANCELLED by ``CANCEL_NEW``).

Run: ``.venv/bin/python bench/retrain.py`` (about 90 s). Ends with exactly one
``RESULT {json}`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("FEAST_USAGE", "False")

from decayguard.config import DecayguardConfig, load_config
from decayguard.flows.names import DECAY_EVENT, RETRAIN, model_resource
from decayguard.flows.stack import PrefectStack
from decayguard.sim.retrain_world import build_retrain_world
from decayguard.store.migrate import migrated_engine
from decayguard.store.schema import as_utc
from decayguard.store.training_runs import training_history

GOAL_S = 30.0
WINDOW_MINUTES = 0.5
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}


def post_decay_event(api: httpx.Client, model: str, now: datetime, note: str) -> datetime:
    """One decay event as the monitor flow emits it; returns its ``occurred`` time."""
    occurred = datetime.now(UTC)
    event = {
        "id": str(uuid.uuid4()),
        "occurred": occurred.isoformat(),
        "event": DECAY_EVENT,
        "resource": model_resource(model),
        "payload": {
            "reason": f"realized accuracy below 0.8 ({note})",
            "model_version": "1",
            "window_end": now.isoformat(),
            "strategies": ["realized"],
        },
    }
    api.post("/events", json=[event]).raise_for_status()
    return occurred


def retrain_runs(api: httpx.Client, since: datetime) -> list[dict[str, Any]]:
    """Flow runs of the retrain deployment created since ``since``."""
    deployment = api.get(f"/deployments/name/{RETRAIN}")
    deployment.raise_for_status()
    body = {"flow_runs": {"deployment_id": {"any_": [deployment.json()["id"]]}}, "limit": 200}
    runs = api.post("/flow_runs/filter", json=body)
    runs.raise_for_status()
    return [r for r in runs.json() if datetime.fromisoformat(r["created"]) >= since]


def store_rows(cfg: DecayguardConfig, since: datetime) -> list[dict[str, Any]]:
    with migrated_engine(cfg.resolved_store_url) as engine:
        return training_history(engine, cfg.model.name, since=since)


def wait_settled(
    api: httpx.Client, cfg: DecayguardConfig, since: datetime, timeout: float = 300.0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Flow runs and store rows since ``since`` once a retraining registered, every run
    ended, and nothing changed for 3 s."""
    deadline = time.monotonic() + timeout
    steady: tuple[float, object] | None = None
    while time.monotonic() < deadline:
        runs = retrain_runs(api, since)
        rows = store_rows(cfg, since)
        seen = sorted((r["id"], r["state_type"]) for r in runs), len(rows)
        done = any(r["status"] == "registered" for r in rows) and all(
            r["state_type"] in TERMINAL for r in runs
        )
        if not done:
            steady = None
        elif steady is None or steady[1] != seen:
            steady = (time.monotonic(), seen)
        elif time.monotonic() - steady[0] >= 3.0:
            return runs, rows
        time.sleep(0.25)
    raise SystemExit(f"no registered retraining within {timeout:.0f} s")


def one_event(api: httpx.Client, cfg: DecayguardConfig, now: datetime) -> dict[str, float]:
    occurred = post_decay_event(api, cfg.model.name, now, "bench: one event")
    runs, rows = wait_settled(api, cfg, occurred - timedelta(seconds=1))
    (row,) = [r for r in rows if r["status"] == "registered"]
    (run,) = [r for r in runs if r["state_type"] == "COMPLETED"]
    started = datetime.fromisoformat(run["start_time"])
    timings = row["details"]
    return {
        "event_to_challenger_s": (as_utc(row["finished_at"]) - occurred).total_seconds(),
        "trigger_latency_s": (started - occurred).total_seconds(),
        "event_to_run_created_s": (
            datetime.fromisoformat(run["created"]) - occurred
        ).total_seconds(),
        "flow_startup_s": (as_utc(row["started_at"]) - started).total_seconds(),
        "training_set_s": timings["training_set"],
        "fit_s": timings["fit"],
        "export_s": timings["fit_process"] - timings["fit"],
        "score_s": timings["score"],
        "register_s": timings["register"],
        "retrain_once_s": timings["total"],
        "flow_runs": len(runs),
    }


def storm(
    api: httpx.Client, cfg: DecayguardConfig, now: datetime, events: int, seconds: float
) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(seconds=1)
    first = None
    for i in range(events):
        occurred = post_decay_event(api, cfg.model.name, now, f"bench: storm {i + 1}/{events}")
        first = first or occurred
        if i + 1 < events:
            time.sleep(seconds / (events - 1))
    runs, rows = wait_settled(api, cfg, since)
    registered = [r for r in rows if r["status"] == "registered"]
    return {
        "storm_events": events,
        "storm_trainings": len(registered),
        "storm_flow_runs": len(runs),
        "storm_flow_run_states": sorted(r["state_type"] for r in runs),
        "storm_store_rows": sorted(r["status"] for r in rows),
        **{
            f"storm_{key}_s": round(float(registered[0]["details"][key]), 3)
            for key in ("training_set", "fit", "register", "total")
            if registered
        },
        "storm_event_to_challenger_s": round(
            (as_utc(registered[0]["finished_at"]) - first).total_seconds(), 3
        )
        if registered and first
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until-day", type=float, default=20.0)
    parser.add_argument("--storm-events", type=int, default=20)
    parser.add_argument("--storm-seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()} load={os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-retrain-") as tmp:
        t = time.perf_counter()
        world = build_retrain_world(
            Path(tmp) / "project",
            until_day=args.until_day,
            config_overrides={
                "orchestration": {"poll_seconds": 1, "schedule_monitor": False},
                "training": {"trigger_window_minutes": WINDOW_MINUTES, "min_hours_between": 24},
            },
        )
        cfg = load_config(world.folder)
        print(
            f"world: {world.predictions} predictions, {world.labels} labels, "
            f"built in {time.perf_counter() - t:.1f} s"
        )
        t = time.perf_counter()
        stack = PrefectStack(cfg)
        try:
            stack.up()
            print(f"Prefect server + flow runner up in {time.perf_counter() - t:.1f} s")
            with httpx.Client(base_url=cfg.orchestration.api_url, timeout=30.0) as api:
                first = one_event(api, cfg, as_utc(world.now))
                # a fresh trigger window (Prefect's and the store's) and past the cooldown
                time.sleep(WINDOW_MINUTES * 60 + 1)
                stormed = storm(
                    api,
                    cfg,
                    as_utc(world.now) + timedelta(days=2),
                    args.storm_events,
                    args.storm_seconds,
                )
        finally:
            print(f"stopped: {', '.join(stack.down())}")
    excluding_fit = first["event_to_challenger_s"] - first["fit_s"]
    print("\none decay event -> registered challenger (seconds)")
    for key in (
        "event_to_run_created_s",
        "trigger_latency_s",
        "flow_startup_s",
        "training_set_s",
        "fit_s",
        "export_s",
        "score_s",
        "register_s",
        "event_to_challenger_s",
    ):
        print(f"  {key:<24}{first[key]:8.2f}")
    print(
        f"  excluding the fit       {excluding_fit:8.2f}   goal <= {GOAL_S:g} s: ratio "
        f"{excluding_fit / GOAL_S:.2f} of the goal"
    )
    print(
        f"storm: {stormed['storm_events']} events in {args.storm_seconds:g} s -> "
        f"{stormed['storm_flow_runs']} flow runs {stormed['storm_flow_run_states']}, "
        f"{stormed['storm_trainings']} training(s); store rows {stormed['storm_store_rows']}"
    )
    result = {
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in first.items()},
        "excluding_fit_s": round(excluding_fit, 3),
        "goal_s": GOAL_S,
        "goal_ratio": round(excluding_fit / GOAL_S, 3),
        **stormed,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
