"""``decayguard demo``: the closed loop on simulated weeks of drifting traffic, real components.

In a fresh folder it: writes a project; puts the simulator's feature history in the
project's Feast repo (apply, materialize); builds the first training set with Feast's
point-in-time join and trains the first champion; exports it hash-pinned and deploys it to
a real MLServer; starts the control API, ``feast serve`` and the Prefect stack (server and
the served monitor deployment); then walks simulated time a step at a time — replaying the
step's applications through the serving endpoint, delivering the labels that matured and
the human reviews through the control API, and running the monitor deployment on Prefect
for the window that ends there. At the end it scores, for every onset in the simulation,
when each strategy first raised an alert, and lists false alarms and the alerts sent.

Simulated time runs far faster than wall-clock time, so the demo triggers each monitor run
itself (with the simulated ``now``) instead of waiting for the schedule.

``task`` picks what the model predicts in the same world (``DEMO_TASKS``): whether an
applicant defaults (binary), their risk grade A-D (multiclass) or the amount lost on the loan
(regression). Each has its training function, threshold and simulated reviewer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from decayguard.alerts.inbox import WebhookInbox
from decayguard.alerts.incidents import all_incidents
from decayguard.config import DecayguardConfig
from decayguard.errors import ConfigError
from decayguard.sim.demo_components import answer_reviews, components, deliver_labels
from decayguard.sim.demo_flows import (
    PersonsRetraining,
    await_triggered_retraining,
    may_retrain,
    on_trial,
    request_retraining,
    run_monitor,
    run_release,
    training_in_flight,
)
from decayguard.sim.demo_project import fresh_folder, write_config
from decayguard.sim.demo_tasks import DEMO_TASKS, DemoTask
from decayguard.sim.feast_source import write_feature_history
from decayguard.sim.recovery import Recovery, score_recovery
from decayguard.sim.scenario import LoanScenario, Onset, Strategy
from decayguard.sim.scoring import Alarm, AlarmScore, score_alarms
from decayguard.sim.simulation import Simulation
from decayguard.sim.traffic import replay_traffic
from decayguard.store import create_store_engine, upgrade

STRATEGY_RULES: dict[Strategy, tuple[str, ...]] = {
    "proxy": ("feature_drift", "prediction_drift", "data_quality", "decay.proxy"),
    "review": ("decay.review",),
    "realized": ("decay.realized",),
}

Progress = Callable[[str, float], None]
"""Called with a short description and the fraction of the demo done (0 to 1)."""


@dataclass(frozen=True)
class DemoSettings:
    folder: Path
    fast: bool = False
    seed: int = 7
    concurrency: int = 8
    task: str = "binary"
    """What the model predicts: ``binary`` (default), ``multiclass`` or ``regression``."""
    days: int = 28
    """Simulated days in total, history included."""
    label_delay_days: float = 1.0
    """Median delay of a ground-truth label (log-normal)."""
    closed_loop: bool = True
    """Retrain, gate and roll out on decay, in the closed loop's story (below). ``False``: the
    detect half only, in the scenario's default story (recession on day 14, rate shock on
    day 21), as in the retraining tests' worlds, which drive the fix half themselves."""

    def __post_init__(self) -> None:
        if self.task not in DEMO_TASKS:
            raise ConfigError(f"unknown demo task {self.task!r}; choose one of {list(DEMO_TASKS)}")

    @property
    def scenario(self) -> LoanScenario:
        per_day = 250.0 if self.fast else 600.0
        scenario = LoanScenario(
            seed=self.seed,
            requests_per_day=per_day,
            task=self.task,
            days=self.days,
            label_delay_median_days=self.label_delay_days,
        )
        if not self.closed_loop:
            return scenario
        # A week of history (a whole weekly cycle in the reference), three stable days, the
        # recession on day 10, the rate shock on day 14; two weeks to catch the decay, retrain
        # on the new world's labels, trial and promote the challenger, and a last week to see
        # the recovery. The five-minute budget of `make demo` is why it is tight: each
        # simulated day costs a Prefect monitor run (~5 s of flow-run process start).
        return dataclasses.replace(
            scenario,
            covariate_day=10.0,
            covariate_ramp_days=1.0,
            concept_day=14.0,
            concept_ramp_days=0.5,
        )

    @property
    def demo_task(self) -> DemoTask:
        return DEMO_TASKS[self.task]

    @property
    def review_share(self) -> float:
        """Share of predictions sent to human review: a fixed number of reviewers sees a
        larger share of the smaller run's traffic (about 40 reviews a day in both)."""
        return 0.16 if self.fast else 0.07

    @property
    def step(self) -> timedelta:
        return timedelta(days=1)

    @property
    def retrain_min_labels(self) -> int:
        """Matured labels since the decay began that a retraining after it waits for, beside
        its one-day holdout: a day of traffic."""
        return int(self.scenario.requests_per_day)


@dataclass
class DemoResult:
    folder: Path
    task: str
    """``model.task`` of the demo's model."""
    onsets: list[Onset]
    score: AlarmScore
    """Per scored onset and strategy: when the first alarm came (``detected_at``, ``delay``)."""
    alerts_sent: list[dict[str, Any]]
    requests_sent: int
    request_failures: int
    monitor_runs: int
    labels_delivered: int
    reviews_answered: int
    wall_seconds: float
    phase_seconds: dict[str, float] = field(default_factory=dict)
    """Wall time spent in each phase (set-up, traffic, labels, reviews, monitor runs...)."""
    recovery: Recovery | None = None
    """What the loop did about the concept shift (retrain, gate, rollout) and what it was
    worth against the never-retrained world."""

    def summary(self) -> dict[str, Any]:
        """A JSON-able digest: detections per onset and strategy, false alarms, counts."""
        detections = self.score.detections
        return {
            "task": self.task,
            "onsets": [
                {
                    "kind": onset.kind,
                    "start": onset.start.isoformat(),
                    "description": onset.description,
                    "detected": {
                        str(row["strategy"]): _detection(row)
                        for row in detections[detections["onset"] == i].to_dict("records")
                    },
                }
                for i, onset in enumerate(self.onsets)
            ],
            "false_alarms": [
                {"time": str(a.time), "strategy": a.strategy, "reason": a.reason}
                for a in self.score.false_alarms.itertuples()
            ],
            "alerts_sent": [str(m.get("title", "")) for m in self.alerts_sent],
            "requests_sent": self.requests_sent,
            "request_failures": self.request_failures,
            "monitor_runs": self.monitor_runs,
            "labels_delivered": self.labels_delivered,
            "reviews_answered": self.reviews_answered,
            "wall_seconds": self.wall_seconds,
            "phase_seconds": self.phase_seconds,
            "recovery": self.recovery.to_dict() if self.recovery else None,
        }


def _detection(row: Mapping[Hashable, Any]) -> dict[str, Any]:
    detected, delay = row["detected_at"], row["delay"]
    return {
        "at": None if pd.isna(detected) else str(detected),
        "delay_days": None if pd.isna(delay) else delay.total_seconds() / 86400,
        "expected": bool(row["expected"]),
    }


class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        t = time.monotonic()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.monotonic() - t


# -- the project ---------------------------------------------------------------------------


def _prepare_features(cfg: DecayguardConfig, sim: Simulation) -> Any:
    from decayguard.features.repo import FeatureRepo
    from decayguard.features.scaffold import write_feature_repo

    write_feature_repo(cfg.root, cfg, force=True, example_data=False)
    write_feature_history(sim.feature_history(), cfg.root / "data" / "applicant_features.parquet")
    repo = FeatureRepo.from_config(cfg)
    repo.apply()
    repo.materialize(end=sim.scenario.end)
    return repo


def _train_champion(cfg: DecayguardConfig, sim: Simulation, repo: Any) -> None:
    """First champion: the project's ``model.train_function`` on a Feast training set (the
    same call retraining makes), released with a holdout."""
    from decayguard.release import release_champion
    from decayguard.training.contract import (
        TrainingMetadata,
        TrainingSet,
        load_train_function,
    )
    from decayguard.training.sets import label_counts

    target = sim.target()
    history = sim.reference_frame()
    labels = history[["applicant_id", "event_timestamp", target.column]]
    built = repo.training_set(labels, end=sim.scenario.deployment_time)
    frame = built.frame.sort_values("event_timestamp").reset_index(drop=True)
    cut = int(len(frame) * 0.7)
    train, holdout = frame.iloc[:cut], frame.iloc[cut:]
    features = [f.name for f in cfg.model.features]
    training = TrainingSet(
        features=train[features].reset_index(drop=True),
        labels=train[target.column].reset_index(drop=True),
        sample_weight=None,
        metadata=TrainingMetadata(
            model_name=cfg.model.name,
            task=target.task,
            target=target.column,
            lineage_hash=built.lineage.frame_sha256,
            window=built.lineage.window,
            window_start=built.lineage.window_start,
            window_end=built.lineage.window_end,
            holdout_start=holdout["event_timestamp"].min().isoformat(),
            labels_as_of=built.lineage.created_at,
            label_counts=label_counts(target.task, train[target.column]),
            holdout_rows=len(holdout),
            feature_refs=list(built.lineage.features),
            feature_service=built.lineage.feature_service,
        ),
    )
    # the simulator's own function (the project's demo_train.retrain counts its calls)
    train_function = load_train_function(
        target.train_function, cfg.root, source=str(cfg.root / "decayguard.yaml")
    )
    model = train_function(training)
    release_champion(
        cfg,
        model,
        holdout,
        version="1",
        drift_reference=frame,
        actor="demo",
        now=sim.scenario.deployment_time,
    )


def _opened_alerts(cfg: DecayguardConfig) -> list[dict[str, Any]]:
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        return all_incidents(engine)
    finally:
        engine.dispose()


def alarms_from_alerts(opened: list[dict[str, Any]]) -> list[Alarm]:
    """Each opened incident as an alarm of the strategy whose rule raised it."""
    alarms = []
    for incident in opened:
        rule = str(incident["rule"])
        strategy = next((s for s, rules in STRATEGY_RULES.items() if rule in rules), None)
        if strategy is not None:
            at = incident["opened_at"]
            assert isinstance(at, datetime)
            alarms.append(Alarm(at, strategy, f"{rule}: {incident['message']}"))
    return alarms


# -- the whole demo ------------------------------------------------------------------------


def run_demo(settings: DemoSettings, progress: Progress | None = None) -> DemoResult:
    """Run the closed loop end to end; see the module docstring."""
    started = time.monotonic()
    watch = _Stopwatch()
    say = progress or (lambda _what, _done: None)
    folder = fresh_folder(settings.folder)
    sim = settings.scenario.simulate()
    token = secrets.token_urlsafe(16)
    with WebhookInbox() as inbox:
        cfg = write_config(folder, inbox.apprise_url, token, settings, sim.target())
        engine = create_store_engine(cfg.resolved_store_url)
        upgrade(engine)
        engine.dispose()
        say("feature repo: feast apply + materialize", 0.02)
        with watch("feast apply + materialize"):
            repo = _prepare_features(cfg, sim)
        say("training the first champion on a Feast training set", 0.06)
        with watch("training set + training + release"):
            _train_champion(cfg, sim, repo)
        say("starting MLServer, feast serve, the control API and Prefect", 0.1)
        reviewer = sim.target().reviewer(settings.seed)
        truth = sim.truth()
        sent = failures = runs = labels = reviews = 0
        steps = list(sim.steps(settings.step))
        with contextlib.ExitStack() as running:
            with watch("starting components"):
                running.enter_context(components(cfg))
            client = running.enter_context(
                httpx.Client(
                    base_url=f"http://127.0.0.1:{cfg.api.port}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                )
            )
            serving_url = f"http://127.0.0.1:{cfg.serving.http_port}"
            person = PersonsRetraining()
            demo_started = datetime.now(UTC)
            for i, (t0, t1, rows) in enumerate(steps):
                if training_in_flight(cfg):
                    # a retraining started by the last step's decay event is training (or
                    # gating): simulated time waits for it, as a real day would
                    with watch("waiting for a retraining (Prefect, on the decay event)"):
                        await_triggered_retraining(demo_started)
                day = (t1 - pd.Timestamp(sim.scenario.start)) / pd.Timedelta(days=1)
                say(
                    f"day {day:.0f}: {len(rows)} requests, labels, reviews, monitor, release",
                    0.15 + 0.8 * i / len(steps),
                )
                with watch("traffic through MLServer"):
                    report = replay_traffic(
                        serving_url, cfg.model.name, rows, concurrency=settings.concurrency
                    )
                sent += report.sent
                failures += report.failures
                with watch("labels (API)"):
                    labels += deliver_labels(client, sim.labels_due(t0, t1))
                with watch("reviews (API)"):
                    reviews += answer_reviews(client, truth, reviewer, t1.to_pydatetime())
                now = t1.to_pydatetime()
                monitored_at = datetime.now(UTC)
                with watch("monitor runs (Prefect)"):
                    run_monitor(cfg, now)
                runs += 1
                if may_retrain(cfg, now):
                    # the run's decay event starts a retraining on Prefect: simulated time
                    # waits for it (and its gate), as a real day would
                    with watch("retraining and gate (Prefect, on the decay event)"):
                        await_triggered_retraining(monitored_at, expect=True)
                if on_trial(cfg):
                    with watch("release steps (Prefect)"):
                        run_release(cfg, now)
                if person.due(cfg, now):
                    say(f"day {day:.0f}: a person retrains by hand", 0.15 + 0.8 * i / len(steps))
                    request_retraining(cfg, now, "a person retrains by hand")
            # retrainings run on Prefect beside the demo (each reads the labels as they stood
            # when its decay was seen): let the last ones finish before the score
            with watch("waiting for the last retrainings"):
                await_triggered_retraining(demo_started)
        say("scoring detections and the recovery", 0.97)
        concept = next((o for o in sim.onsets if o.kind == "concept"), None)
        state = cfg.path(cfg.project.state_dir).resolve()
        recovery = (
            score_recovery(cfg, sim, concept.start, state / "artifacts" / cfg.model.name / "1")
            if concept is not None
            else None
        )
        score = score_alarms(
            sim.onsets,
            alarms_from_alerts(_opened_alerts(cfg)),
            since=sim.scenario.deployment_time,
        )
        alerts_sent = list(inbox.messages)
    return DemoResult(
        folder=folder,
        task=settings.task,
        onsets=[o for o in sim.onsets if o.scored],
        score=score,
        alerts_sent=alerts_sent,
        requests_sent=sent,
        request_failures=failures,
        monitor_runs=runs,
        labels_delivered=labels,
        reviews_answered=reviews,
        wall_seconds=time.monotonic() - started,
        phase_seconds=watch.seconds,
        recovery=recovery,
    )
