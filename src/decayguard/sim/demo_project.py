"""The demo's project folder: its ``decayguard.yaml`` and its training function.

:func:`write_config` writes the configuration the demo (and the retraining tests' worlds)
run on: free ports, the simulated reviewer's share, and, for the closed loop, the retraining,
gate and release settings and ``demo_train.py`` (the simulator's model, except that its second
call learns from a broken join's labels: the deliberately bad challenger).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from decayguard.config import DecayguardConfig, load_config
from decayguard.errors import ConfigError
from decayguard.processes import free_port
from decayguard.sim.population import FEATURE_NAMES
from decayguard.sim.targets import LoanTarget

if TYPE_CHECKING:
    from decayguard.sim.demo import DemoSettings

MARKER = ".decayguard-demo"


def fresh_folder(folder: Path) -> Path:
    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise ConfigError(
                f"{folder} exists and is not a decayguard demo folder: choose another --folder"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by `decayguard demo`; safe to delete\n")
    return folder


def write_config(
    folder: Path, alert_url: str, token: str, settings: DemoSettings, target: LoanTarget
) -> DecayguardConfig:
    numeric = [f for f in FEATURE_NAMES if f != "employment"]
    demo_task = settings.demo_task
    config = {
        "project": {"name": "decayguard-demo"},
        "model": {
            "name": demo_task.model_name,
            "task": target.task,
            "target": target.column,
            **demo_task.model_keys,
            "entity_key": "applicant_id",
            "features": [{"name": f, "dtype": "float"} for f in numeric]
            + [{"name": "employment", "dtype": "category"}],
            "train_function": "demo_train:retrain"
            if settings.closed_loop
            else target.train_function,
        },
        "features": {
            "repo_path": "feature_repo",
            "feature_service": "credit_default_v1",
            "server_url": f"http://127.0.0.1:{free_port()}",
        },
        "monitoring": {
            "window_hours": 24,
            # two days of reviews: detection and the decay's onset estimate stay close to it
            "review_window_hours": 48 if settings.closed_loop else 96,
            "labels_window_hours": 168,
            "performance_thresholds": dict(demo_task.performance_thresholds),
            "min_window_rows": 100,
            "min_reviews": 30,
            "min_labels": 50,
        },
        "feedback": {
            "review_share": settings.review_share,
            "review_strategy": demo_task.review_strategy,
            **demo_task.feedback_keys,
        },
        "serving": {
            "http_port": free_port(),
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "trust_event_time": True,
        },
        "alerts": {"apprise_urls": [alert_url], "reminder_backoff_minutes": [7 * 24 * 60]},
        "api": {"port": free_port(), "token": token},
        "orchestration": {
            "prefect_port": free_port(),
            "schedule_monitor": False,
            "poll_seconds": 0.25,  # the runner picks up the demo's runs without delay
        },
        "training": {"on_decay": False},
    }
    if settings.closed_loop:
        config.update(closed_loop_config(settings))
        module, function = target.train_function.split(":")
        text = DEMO_TRAIN.format(module=module, function=function)
        (folder / "demo_train.py").write_text(text)
    (folder / "decayguard.yaml").write_text(
        "# Written by `decayguard demo`.\n" + yaml.safe_dump(config, sort_keys=False)
    )
    return load_config(folder)


def closed_loop_config(settings: DemoSettings) -> dict[str, Any]:
    """The fix half: the decay event retrains (on the labels since the decay began, once
    enough have matured), the gate validates, the release shadows, canaries, promotes."""
    return {
        "training": {
            "on_decay": True,
            "min_labels": settings.retrain_min_labels,
            "holdout_days": 1,
            "min_hours_between": 72,
            # A simulated day passes in seconds here: each day's decay event is its own
            # trigger (the store's cooldown, in simulated time, is what spaces retrainings).
            "trigger_window_minutes": 0.02,
        },
        "gate": {"n_resamples": 1000, "smoke_requests": 100},
        "release": {
            "min_shadow_hours": 24,
            "canary_hours": 24,
            "canary_share": 0.25,
            "min_labels": 150,
            "max_hours": 240,
        },
    }


DEMO_TRAIN = '''"""The demo's training function (model.train_function: demo_train:retrain).

It trains the simulator's model ({module}:{function}), except on its second call: then its
training set comes through a broken join — a classifier's labels with their encoding flipped
(each class read as the next one: 1 for 0, 0 for 1), a regressor's outcomes paired with other
applicants' — a deliberately bad challenger, for the gate or the rollout judge to stop.
"""

import dataclasses
from pathlib import Path

import pandas as pd

from {module} import {function}

CALLS = Path(__file__).with_name(".demo-train-calls")


def _broken(labels):
    if pd.api.types.is_numeric_dtype(labels):
        return labels.sample(frac=1.0, random_state=2).reset_index(drop=True)
    classes = sorted(labels.astype(str).unique())
    following = dict(zip(classes, classes[1:] + classes[:1]))
    return labels.astype(str).map(following)


def retrain(training):
    calls = int(CALLS.read_text()) + 1 if CALLS.exists() else 1
    CALLS.write_text(str(calls))
    if calls == 2:
        training = dataclasses.replace(training, labels=_broken(training.labels))
    return {function}(training)
'''
