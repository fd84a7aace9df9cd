"""The release flow on a real Prefect server: the served deployment, one flow run through it,
one direct flow run, and the adapter's event sink and clock (core replaced, no Prefect run).

The world (``build_retrain_world``: champion ``1``, no challenger) points at the session's
Prefect server; ``PrefectStack.up()`` starts only the project's flow runner, which waits for
every deployment of :data:`~decayguard.flows.names.SERVED_DEPLOYMENTS`. Flow runs happen in
child processes, so the test process runs no Prefect client (nothing to drain).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from decayguard.config import DecayguardConfig, load_config
from decayguard.flows import release as release_module
from decayguard.flows.names import (
    PROMOTED_EVENT,
    RELEASE,
    RELEASE_DEPLOYMENT,
    RELEASE_FLOW,
    ROLLED_BACK_EVENT,
    SERVED_DEPLOYMENTS,
    model_resource,
)
from decayguard.flows.serve import release_deployment
from decayguard.flows.stack import PrefectStack
from decayguard.release.run import AdvanceOutcome, ReleaseStep
from decayguard.sim.retrain_world import RetrainWorld, build_retrain_world


def test_the_names() -> None:
    assert RELEASE == f"{RELEASE_FLOW}/{RELEASE_DEPLOYMENT}" == "decayguard-release/release"
    assert SERVED_DEPLOYMENTS[-1] == RELEASE
    assert len(set(SERVED_DEPLOYMENTS)) == 3
    assert PROMOTED_EVENT == "decayguard.release.promoted"
    assert ROLLED_BACK_EVENT == "decayguard.release.rolled_back"


@pytest.mark.parametrize("scheduled", [True, False])
def test_the_deployment_runs_on_the_monitors_interval_one_at_a_time(
    tmp_path: Path, scheduled: bool
) -> None:
    (tmp_path / "decayguard.yaml").write_text(
        "model:\n  name: m\nmonitoring:\n  interval_minutes: 15\n"
        f"orchestration:\n  schedule_monitor: {str(scheduled).lower()}\n"
    )
    deployment = release_deployment(load_config(tmp_path))
    assert deployment.name == RELEASE_DEPLOYMENT
    assert deployment.parameters == {"project_dir": str(tmp_path.resolve())}
    limit = deployment.concurrency_limit
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy == "CANCEL_NEW"
    assert limit == 1
    if scheduled:
        (schedule,) = deployment.schedules
        assert schedule.schedule.interval == timedelta(minutes=15)  # type: ignore[union-attr]
    else:
        assert not deployment.schedules


def test_the_flow_passes_its_clock_and_emits_the_cores_events_on_the_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "decayguard.yaml").write_text("model:\n  name: m\n")
    calls: list[tuple[DecayguardConfig, datetime | None]] = []
    emitted: list[dict[str, Any]] = []
    now = datetime(2026, 11, 1, tzinfo=UTC)

    def fake_advance(
        cfg: DecayguardConfig, when: datetime | None = None, **kw: Any
    ) -> AdvanceOutcome:
        calls.append((cfg, when))
        payload = {"version": "2", "previous_champion": "1", "reason": "r", "actor": "decayguard"}
        kw["events"](PROMOTED_EVENT, payload)
        step = ReleaseStep("2", "promote", "canary", "champion", "r", "decayguard")
        return AdvanceOutcome("m", now, "2", None, None, [step], message="promoted")

    monkeypatch.setattr(release_module, "advance", fake_advance)
    monkeypatch.setattr(release_module, "emit_event", lambda **kw: emitted.append(kw))
    monkeypatch.setattr(release_module, "get_run_logger", lambda: logging.getLogger("test"))
    result = release_module.release_flow.fn(str(tmp_path), "2026-11-01T00:00:00Z")
    assert result["champion"] == "2"
    assert result["steps"][0]["to_stage"] == "champion"
    ((cfg, when),) = calls
    assert cfg.model.name == "m"
    assert when == now
    assert emitted == [
        {
            "event": PROMOTED_EVENT,
            "resource": model_resource("m"),
            "payload": {
                "version": "2",
                "previous_champion": "1",
                "reason": "r",
                "actor": "decayguard",
            },
        }
    ]
    release_module.release_flow.fn(str(tmp_path))
    assert calls[-1][1] is None  # no clock: the core's wall clock


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str) -> RetrainWorld:
    return build_retrain_world(
        tmp_path_factory.mktemp("release-flow") / "project",
        until_day=20,
        config_overrides={
            "orchestration": {
                "prefect_api_url": prefect_api_url,
                "poll_seconds": 1,
                "schedule_monitor": False,
            },
        },
    )


def _python(code: str, prefect_api_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240
    )


@pytest.mark.slow
def test_the_served_release_deployment_runs_one_step(
    world: RetrainWorld, prefect_api_url: str, prefect_api: httpx.Client
) -> None:
    cfg = load_config(world.folder)
    stack = PrefectStack(cfg).up()  # waits for every served deployment, the release one too
    try:
        deployment = prefect_api.get(f"/deployments/name/{RELEASE}").json()
        assert deployment["parameters"] == {"project_dir": str(cfg.root)}
        assert deployment["schedules"] == []  # schedule_monitor off: on demand only
        assert deployment["global_concurrency_limit"]["limit"] == 1
        assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
        code = (
            "from prefect.deployments import run_deployment;"
            f"r = run_deployment({RELEASE!r}, parameters={{'project_dir': {str(cfg.root)!r}, "
            f"'now': {world.now.isoformat()!r}}}, timeout=120);"
            "print(r.state.type.value)"
        )
        out = _python(code, prefect_api_url)
        assert out.stdout.strip().endswith("COMPLETED"), out.stdout + out.stderr
    finally:
        stopped = stack.down()
    assert stopped == ["flow-runner"]


@pytest.mark.slow
def test_one_flow_run_returns_the_outcome(world: RetrainWorld, prefect_api_url: str) -> None:
    code = (
        "import json; from decayguard.flows.release import release_flow;"
        f"print(json.dumps(release_flow({str(world.folder)!r}, {world.now.isoformat()!r})))"
    )
    out = _python(code, prefect_api_url)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["champion"] == "1"
    assert result["candidate"] is None
    assert result["steps"] == []
    assert result["model_name"] == world.cfg.model.name
    assert datetime.fromisoformat(result["now"]) == world.now


def _events(api: httpx.Client, name: str, since: datetime) -> list[dict[str, Any]]:
    body = {"filter": {"event": {"name": [name]}, "occurred": {"since": since.isoformat()}}}
    response = api.post("/events/filter", json=body)
    response.raise_for_status()
    return list(response.json()["events"])


def _cli(world: RetrainWorld, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "decayguard"), *args],
        cwd=world.folder,
        env={**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


@pytest.mark.slow
def test_a_flow_run_finishes_a_crashed_promotion_and_announces_it_on_prefect(
    world: RetrainWorld, prefect_api_url: str, prefect_api: httpx.Client
) -> None:
    """A person's promotion killed right after its transition committed: the next release
    run applies it and emits the promoted event on the model's resource."""
    now = world.now.isoformat()
    retrained = _cli(world, "retrain", "--reason", "test: a challenger", "--now", now)
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    assert _cli(world, "gate", "2").returncode == 0
    crashed = _cli(
        world,
        "release",
        "promote",
        "2",
        "--reason",
        "test: promoted, then a crash",
        DECAYGUARD_FAILPOINT="after_transition",
    )
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr  # SIGKILL
    since = datetime.now(UTC)
    code = (
        "import json; from decayguard.flows.release import release_flow;"
        f"print(json.dumps(release_flow({str(world.folder)!r}, {now!r})))"
    )
    out = _python(code, prefect_api_url)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["champion"] == "2"
    assert result["recovered"], result
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not events and time.monotonic() < deadline:
        events = _events(prefect_api, PROMOTED_EVENT, since)
        time.sleep(0.5)
    mine = [
        e
        for e in events
        if e["resource"]["prefect.resource.id"] == f"decayguard.model.{world.cfg.model.name}"
    ]
    assert len(mine) == 1, events
    payload = mine[0]["payload"]
    assert payload["version"] == "2"
    assert payload["reason"] == "test: promoted, then a crash"
    assert payload["actor"].startswith("cli:")
    assert mine[0]["resource"]["prefect.resource.name"] == world.cfg.model.name
