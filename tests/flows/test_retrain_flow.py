"""The retrain flow on a real Prefect server, with the real MLflow registry (SQLite).

One served world (``build_retrain_world``), the session's Prefect server, and the project's
own flow runner (``PrefectStack.up()`` starts only the runner: the project points at the
session's API). Events are POSTed to the server's events API, so the test process runs no
Prefect client (no EventsWorker or APILogWorker to drain); every runner is stopped before the
session's server is.

Each test starts after the previous retraining's cooldown on the simulated clock
(``training.min_hours_between``): its events carry a ``window_end`` two days after the last
registered retraining, and it counts only the store rows and flow runs created since it began.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from decayguard.config import DecayguardConfig, load_config
from decayguard.errors import InputValidationError, TrainingError
from decayguard.flows import retrain as retrain_module
from decayguard.flows.names import (
    CHALLENGER_EVENT,
    DECAY_EVENT,
    RETRAIN,
    SERVED_DEPLOYMENTS,
    model_resource,
)
from decayguard.flows.retrain import parse_time
from decayguard.flows.serve import decay_trigger
from decayguard.flows.stack import PrefectStack
from decayguard.registry.interface import CHALLENGER_ALIAS, CHAMPION_ALIAS
from decayguard.registry.mlflow_registry import registry_from_config
from decayguard.sim.retrain_world import RetrainWorld, build_retrain_world
from decayguard.store import create_store_engine
from decayguard.store.deployments import active_version
from decayguard.store.migrate import migrated_engine
from decayguard.store.schema import as_utc
from decayguard.store.training_runs import training_history
from decayguard.training.gating import GateReport
from decayguard.training.inspect import lineage_of, verify_lineage
from decayguard.training.retrain import RetrainOutcome, RetrainTrigger

CRON = "0 3 * * 1"
STORM_WINDOW_MINUTES = 10.0
SHORT_WINDOW_MINUTES = 0.05  # 3 s: a few trigger windows in a few seconds
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
Run = dict[str, Any]


def _cancel_leftovers(api: httpx.Client) -> None:
    """Cancel unfinished runs of the served deployments: the server's home persists across
    sessions and modules, and a stale run would take the deployment's one slot."""
    for name in SERVED_DEPLOYMENTS:
        found = api.get(f"/deployments/name/{name}")
        if found.status_code == 404:
            continue
        found.raise_for_status()
        body = {
            "flow_runs": {
                "deployment_id": {"any_": [found.json()["id"]]},
                "state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING", "PAUSED"]}},
            },
            "limit": 200,
        }
        for run in api.post("/flow_runs/filter", json=body).json():
            api.post(
                f"/flow_runs/{run['id']}/set_state",
                json={"state": {"type": "CANCELLED", "message": "test clean-up"}, "force": True},
            ).raise_for_status()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str, prefect_api: httpx.Client
) -> RetrainWorld:
    _cancel_leftovers(prefect_api)
    return build_retrain_world(
        tmp_path_factory.mktemp("retrain") / "project",
        until_day=20,
        config_overrides={
            "orchestration": {
                "prefect_api_url": prefect_api_url,
                "poll_seconds": 1,
                "schedule_monitor": False,
            },
            "training": {
                "schedule": CRON,
                "trigger_window_minutes": STORM_WINDOW_MINUTES,
                "min_hours_between": 24,
            },
        },
    )


@contextlib.contextmanager
def _served(world: RetrainWorld, window_minutes: float) -> Iterator[DecayguardConfig]:
    """The project's flow runner, serving with ``training.trigger_window_minutes``."""
    path = world.folder / "decayguard.yaml"
    data = yaml.safe_load(path.read_text())
    data["training"]["trigger_window_minutes"] = window_minutes
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    cfg = load_config(world.folder)
    stack = PrefectStack(cfg).up()
    try:
        yield cfg
    finally:
        assert stack.down() == ["flow-runner"]


def _store_runs(cfg: DecayguardConfig, since: datetime) -> list[dict[str, Any]]:
    with migrated_engine(cfg.resolved_store_url) as engine:
        return training_history(engine, cfg.model.name, since=since)


def _next_now(world: RetrainWorld) -> datetime:
    """A simulated clock past the cooldown of every registered retraining so far."""
    done = list(_store_runs(world.cfg, datetime.min.replace(tzinfo=UTC)))
    registered = [as_utc(r["as_of"]) for r in done if r["status"] == "registered"]
    return max(registered) + timedelta(days=2) if registered else as_utc(world.now)


def _post_decay_events(
    api: httpx.Client, model: str, count: int, gap: float, now: datetime
) -> None:
    for i in range(count):
        event = {
            "id": str(uuid.uuid4()),
            "occurred": datetime.now(UTC).isoformat(),
            "event": DECAY_EVENT,
            "resource": model_resource(model),
            "payload": {
                "reason": f"realized accuracy below 0.8 (test event {i + 1} of {count})",
                "model_version": "1",
                "window_end": now.isoformat(),
                "strategies": ["realized"],
            },
        }
        api.post("/events", json=[event]).raise_for_status()
        if i + 1 < count:
            time.sleep(gap)


def _decay_runs(api: httpx.Client, since: datetime) -> list[Run]:
    found = api.get(f"/deployments/name/{RETRAIN}")
    found.raise_for_status()
    body = {"flow_runs": {"deployment_id": {"any_": [found.json()["id"]]}}, "limit": 200}
    response = api.post("/flow_runs/filter", json=body)
    response.raise_for_status()
    return [
        r
        for r in response.json()
        if parse_time("created", r["created"]) >= since  # type: ignore[operator]
        and r["parameters"].get("trigger") == "decay"
    ]


def _wait_stable(
    api: httpx.Client, since: datetime, done: Callable[[list[Run]], bool], timeout: float
) -> list[Run]:
    """The decay runs since ``since`` once ``done(runs)`` has held, unchanged, for 3 s."""
    deadline = time.monotonic() + timeout
    steady: tuple[float, list[tuple[str, str]]] | None = None
    runs: list[Run] = []
    while time.monotonic() < deadline:
        runs = _decay_runs(api, since)
        seen = sorted((r["id"], r["state_type"]) for r in runs)
        if not done(runs):
            steady = None
        elif steady is None or steady[1] != seen:
            steady = (time.monotonic(), seen)
        elif time.monotonic() - steady[0] >= 3.0:
            return runs
        time.sleep(0.5)
    raise AssertionError(f"runs did not settle: {[(r['name'], r['state_type']) for r in runs]}")


def _finished(runs: list[Run]) -> bool:
    return bool(runs) and all(r["state_type"] in TERMINAL for r in runs)


def _settings_sha(cfg: DecayguardConfig) -> str:
    folder = cfg.path(cfg.project.state_dir) / "models" / cfg.model.name
    return hashlib.sha256((folder / "model-settings.json").read_bytes()).hexdigest()


def _assert_one_training(rows: list[dict[str, Any]]) -> dict[str, Any]:
    registered = [r for r in rows if r["status"] == "registered"]
    assert len(registered) == 1, [(r["status"], r["message"]) for r in rows]
    for row in rows:
        if row is not registered[0]:
            assert row["status"] == "skipped", row
            assert "cooldown" in row["message"] or "holds" in row["message"], row["message"]
    return registered[0]


def test_parse_time_reads_template_strings() -> None:
    assert parse_time("now", "2026-11-01T00:00:00Z") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("now", "2026-11-01T01:00:00+01:00") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("now", "2026-11-01 00:00:00") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("now", "") is None
    assert parse_time("now", "None") is None
    assert parse_time("now", None) is None
    with pytest.raises(Exception, match="input 'now': not an ISO date-time"):
        parse_time("now", "yesterday")


def _adapter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, outcome: RetrainOutcome
) -> tuple[list[tuple[RetrainTrigger, datetime | None]], list[dict[str, Any]]]:
    """The flow's body with ``retrain_once`` and ``emit_event`` replaced (no Prefect run)."""
    (tmp_path / "decayguard.yaml").write_text(
        "model:\n  name: m\n  train_function: pkg.mod:train\n"
    )
    calls: list[tuple[RetrainTrigger, datetime | None]] = []
    events: list[dict[str, Any]] = []

    def fake_retrain(
        cfg: DecayguardConfig, trigger: RetrainTrigger, *, now: datetime | None, **_: Any
    ) -> RetrainOutcome:
        calls.append((trigger, now))
        return outcome

    def fake_gate(cfg: DecayguardConfig, version: str, **_: Any) -> GateReport:
        return GateReport(cfg.model.name, version, "1", True, "passed: Δ +0.01", None, None)

    monkeypatch.setattr(retrain_module, "retrain_once", fake_retrain)
    monkeypatch.setattr(retrain_module, "gate_once", fake_gate)
    monkeypatch.setattr(retrain_module, "emit_event", lambda **kw: events.append(kw))
    monkeypatch.setattr(retrain_module, "get_run_logger", lambda: logging.getLogger("test"))
    return calls, events


def test_the_flow_parses_the_templated_parameters_and_announces_the_challenger(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outcome = RetrainOutcome("registered", "m", "decay", "registered version 2", version="2")
    calls, events = _adapter(monkeypatch, tmp_path, outcome)
    result = retrain_module.retrain_flow.fn(
        str(tmp_path), "decay", "accuracy fell", "2026-12-01T10:00:00+00:00", "2026-11-01T00:00:00Z"
    )
    gate = result.pop("gate")
    assert result == outcome.to_dict()
    assert gate["passed"]
    assert gate["version"] == "2"  # the flow gates what it registered
    ((trigger, now),) = calls
    at = datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert trigger == RetrainTrigger("decay", "accuracy fell", at)
    assert now == datetime(2026, 11, 1, tzinfo=UTC)
    assert [e["event"] for e in events] == [CHALLENGER_EVENT]
    assert events[0]["payload"]["version"] == "2"


def test_a_failed_training_fails_the_flow_run_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    message = "retraining failed, the champion keeps serving: training function pkg.mod:train: boom"
    failed = RetrainOutcome("failed", "m", "manual", message)
    calls, events = _adapter(monkeypatch, tmp_path, failed)
    with pytest.raises(TrainingError) as raised:
        retrain_module.retrain_flow.fn(str(tmp_path))
    assert str(raised.value) == (
        "training function pkg.mod:train: retraining failed, the champion keeps serving: boom"
    )
    assert len(calls) == 1  # no retry of a failed training
    assert calls[0][0].kind == "manual"
    assert not events
    with pytest.raises(InputValidationError, match="'trigger'"):
        retrain_module.retrain_flow.fn(str(tmp_path), trigger="sometimes")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {
                "reason": "accuracy fell",
                "window_end": "2026-11-01T00:00:00+00:00",
                "decay_since": "2026-10-29T00:00:00+00:00",
            },
            {
                "reason": "accuracy fell",
                "now": "2026-11-01T00:00:00+00:00",
                "since": "2026-10-29T00:00:00+00:00",
            },
        ),
        # a bare event still starts a retraining
        ({}, {"reason": None, "now": None, "since": None}),
    ],
)
def test_the_decay_trigger_renders_through_prefects_own_templating(
    tmp_path: Path, payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    """The server's own render path for a RunDeployment action (Prefect 3.9: plain templates
    upgraded to ``tojson`` ones, then hydrated), on the trigger's parameters."""
    from prefect.server.events.actions import RunDeployment
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

    (tmp_path / "decayguard.yaml").write_text("model:\n  name: m\n")
    trigger = decay_trigger(load_config(tmp_path))
    parameters = dict(trigger.parameters or {})
    RunDeployment._upgrade_v1_templates(parameters)
    occurred = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    event = ReceivedEvent(
        occurred=occurred,
        event=DECAY_EVENT,
        resource=model_resource("m"),
        payload=payload,
        id=uuid.uuid4(),
    )
    rendered = hydrate(
        parameters,
        HydrationContext(raise_on_error=True, render_jinja=True, jinja_context={"event": event}),
    )
    assert rendered == {
        "project_dir": str(tmp_path.resolve()),
        "trigger": "decay",
        "event_time": occurred.isoformat(),
        "labels_as_of": occurred.isoformat(),  # the labels as they stood at the event
        **expected,
    }
    assert parse_time("event_time", rendered["event_time"]) == occurred


def test_the_served_retrain_deployment_has_its_schedule_trigger_and_limit(
    world: RetrainWorld, prefect_api: httpx.Client
) -> None:
    with _served(world, STORM_WINDOW_MINUTES) as cfg:
        deployment = prefect_api.get(f"/deployments/name/{RETRAIN}").json()
        related = prefect_api.get(f"/automations/related-to/prefect.deployment.{deployment['id']}")
        related.raise_for_status()
    (schedule,) = deployment["schedules"]
    assert schedule["schedule"]["cron"] == CRON
    assert schedule["schedule"]["timezone"] == "UTC"
    assert schedule["parameters"] == {"trigger": "schedule"}
    assert schedule["active"] is True
    assert deployment["parameters"] == {"project_dir": str(cfg.root)}
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    (automation,) = related.json()
    trigger = automation["trigger"]
    assert trigger["expect"] == [DECAY_EVENT]
    assert trigger["match"] == {"prefect.resource.id": f"decayguard.model.{cfg.model.name}"}
    assert trigger["posture"] == "Reactive"
    assert trigger["threshold"] == 1
    assert trigger["within"] == STORM_WINDOW_MINUTES * 60
    (action,) = automation["actions"]
    assert action["type"] == "run-deployment"
    assert action["deployment_id"] == deployment["id"]
    assert action["parameters"] == {
        "project_dir": str(cfg.root),
        "trigger": "decay",
        "reason": "{{ event.payload.get('reason') }}",
        "event_time": "{{ event.occurred.isoformat() }}",
        "now": "{{ event.payload.get('window_end') }}",
        "since": "{{ event.payload.get('decay_since') }}",
        "labels_as_of": "{{ event.occurred.isoformat() }}",
    }


def test_a_storm_of_decay_events_trains_exactly_once(
    world: RetrainWorld, prefect_api: httpx.Client
) -> None:
    cfg = world.cfg
    name = cfg.model.name
    registry = registry_from_config(cfg)
    before = {v.version for v in registry.versions(name)}
    engine = create_store_engine(cfg.resolved_store_url)
    champion, settings = active_version(engine, name), _settings_sha(cfg)
    now = _next_now(world)
    with _served(world, STORM_WINDOW_MINUTES):
        since = datetime.now(UTC)
        _post_decay_events(prefect_api, name, count=20, gap=0.5, now=now)  # 20 in 9.5 s
        runs = _wait_stable(
            prefect_api,
            since,
            lambda runs: (
                _finished(runs)
                and any(r["status"] == "registered" for r in _store_runs(cfg, since))
            ),
            timeout=150,
        )
    rows = _store_runs(cfg, since)
    row = _assert_one_training(rows)
    states = sorted(r["state_type"] for r in runs)
    print(f"storm: 20 events, {len(runs)} flow runs {states}, {len(rows)} store rows")
    assert states.count("COMPLETED") >= 1
    assert set(states) <= {"COMPLETED", "CANCELLED"}, states
    assert len(runs) == 1, states  # threshold=1 within the window: one run for the burst
    after = registry.versions(name)
    new = [v for v in after if v.version not in before and CHAMPION_ALIAS not in v.aliases]
    assert [v.version for v in new] == [row["version"]]
    challenger = registry.by_alias(name, CHALLENGER_ALIAS)
    assert challenger is not None
    assert challenger.version == row["version"]
    champion_record = registry.by_alias(name, CHAMPION_ALIAS)
    assert champion_record is not None
    assert champion_record.version == champion == "1"
    assert as_utc(row["as_of"]) == now
    assert "test event" in (row["reason"] or "")
    assert active_version(engine, name) == champion  # serving is untouched
    assert _settings_sha(cfg) == settings
    engine.dispose()


def test_events_while_the_runner_is_down_train_once_when_it_returns(
    world: RetrainWorld, prefect_api: httpx.Client
) -> None:
    cfg = world.cfg
    now = _next_now(world)
    with _served(world, SHORT_WINDOW_MINUTES):
        pass  # the deployment and its 3 s trigger are registered; the runner is stopped
    since = datetime.now(UTC)
    _post_decay_events(prefect_api, cfg.model.name, count=5, gap=2.0, now=now)  # 8 s: 3 windows
    waiting = _wait_stable(prefect_api, since, lambda runs: len(runs) >= 2, timeout=30)
    assert {r["state_type"] for r in waiting} == {"SCHEDULED"}  # nobody runs them yet
    assert not _store_runs(cfg, since)
    with _served(world, SHORT_WINDOW_MINUTES):
        runs = _wait_stable(
            prefect_api,
            since,
            lambda runs: _finished(runs) and len(runs) >= len(waiting),
            timeout=150,
        )
    rows = _store_runs(cfg, since)
    states = sorted(r["state_type"] for r in runs)
    print(f"runner down: 5 events, {len(waiting)} runs waited, ended {states}; {len(rows)} rows")
    _assert_one_training(rows)
    assert set(states) <= {"COMPLETED", "CANCELLED"}, states


def test_a_decay_event_registers_a_challenger_whose_training_set_rebuilds(
    world: RetrainWorld, prefect_api: httpx.Client
) -> None:
    cfg = world.cfg
    name = cfg.model.name
    now = _next_now(world)
    with _served(world, SHORT_WINDOW_MINUTES):
        since = datetime.now(UTC)
        _post_decay_events(prefect_api, name, count=1, gap=0, now=now)
        (run,) = _wait_stable(prefect_api, since, _finished, timeout=150)
    assert run["state_type"] == "COMPLETED"
    assert run["parameters"]["now"] == now.isoformat()
    assert parse_time("event_time", run["parameters"]["event_time"]) >= since  # type: ignore[operator]
    logs = prefect_api.post(
        "/logs/filter", json={"logs": {"flow_run_id": {"any_": [run["id"]]}}, "limit": 200}
    ).json()
    (row,) = _store_runs(cfg, since)
    assert row["status"] == "registered"
    assert any(f"registered version {row['version']}" in log["message"] for log in logs)
    registry = registry_from_config(cfg)
    recorded = lineage_of(cfg, row["version"], registry)  # `decayguard lineage`'s core
    assert recorded.extra["training_run"] == row["id"]
    assert recorded.frame_sha256 == registry.get(name, row["version"]).lineage_hash
    check = verify_lineage(cfg, row["version"], registry, lineage=recorded)  # ... --verify
    assert check.same, check.cause
    assert check.rebuilt_sha256 == recorded.frame_sha256
    query = {"event": {"name": [CHALLENGER_EVENT]}, "occurred": {"since": since.isoformat()}}
    deadline, announced = time.monotonic() + 15, []
    while not announced and time.monotonic() < deadline:
        time.sleep(0.5)
        announced = prefect_api.post("/events/filter", json={"filter": query}).json()["events"]
    assert [e["payload"]["version"] for e in announced] == [row["version"]]
    assert Path(cfg.path(cfg.project.state_dir), "training", row["id"], "lineage.json").is_file()
