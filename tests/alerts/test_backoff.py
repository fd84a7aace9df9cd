"""Reminders back off in the monitor's (event) time, and the schedule survives restarts."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.alerts import IncidentTracker, RecordingNotifier, ReminderBackoff, Signal
from decayguard.alerts.incidents import open_incidents
from decayguard.alerts.notify import Notification
from decayguard.config import AlertsConfig, DecayguardConfig, load_config
from decayguard.errors import ConfigError
from decayguard.store import create_store_engine, current_revision, upgrade
from decayguard.store.migrate import alembic_config

T0 = datetime(2026, 8, 1, tzinfo=UTC)
DAYS = 60


def _firing(message: str = "accuracy 0.70, interval [0.68, 0.72], below 0.8") -> Signal:
    return Signal("credit-default", "decay.realized", True, "critical", message)


def _replay(tracker: IncidentTracker, hours: range) -> list[int]:
    """Hourly monitor runs with the incident firing at each; the hours a reminder went out."""
    sent = []
    for h in hours:
        (outcome,) = tracker.process([_firing()], now=T0 + timedelta(hours=h))
        if outcome.action == "reminded":
            sent.append(h)
    return sent


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite store (2,880 runs on PostgreSQL take ~17 s here: the schedule is the
    same, the other tests run on both)."""
    engine = create_store_engine(f"sqlite:///{tmp_path}/store.db")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_sixty_days_of_hourly_runs_send_61_reminders_instead_of_1439(
    sqlite_engine: Engine,
) -> None:
    """The measurement of issue 14: one incident open through a replayed 60-day history."""
    store_engine = sqlite_engine
    backoff = IncidentTracker(store_engine, RecordingNotifier())
    reminders = _replay(backoff, range(DAYS * 24))
    # 1 h, 4 h, 1 day after the previous one, then daily: hours 1, 5, 29, 53, ..., 1421
    assert reminders[:5] == [1, 5, 29, 53, 77]
    assert reminders == [1, 5, *range(29, DAYS * 24, 24)]
    assert len(reminders) == 61
    assert backoff.notifier.sent[0].kind == "opened"  # type: ignore[attr-defined]
    (incident,) = open_incidents(store_engine)
    assert incident["reminders_sent"] == 61
    assert backoff.next_reminder_at(incident) == T0 + timedelta(hours=1421 + 24)

    backoff.process([Signal("credit-default", "decay.realized", False, "info", "ok")], now=T0)
    fixed = IncidentTracker(store_engine, RecordingNotifier(), cooldown=timedelta(minutes=60))
    assert len(_replay(fixed, range(DAYS * 24))) == DAYS * 24 - 1, "before: one per run"


def test_the_reminder_says_when_the_next_one_comes(store_engine: Engine) -> None:
    notifier = RecordingNotifier()
    tracker = IncidentTracker(store_engine, notifier, dashboard="https://dg.example.com")
    _replay(tracker, range(6))
    opened, first, second = notifier.sent
    assert opened.body == (
        "accuracy 0.70, interval [0.68, 0.72], below 0.8\n\n"
        "Dashboard: https://dg.example.com/dashboard?model=credit-default"
    )
    assert first.title == "[CRITICAL] still firing — credit-default: decay.realized"
    assert "Open since 2026-08-01 00:00 UTC; reminder 1, the next in 4 h if it keeps firing." in (
        first.body
    )
    assert "reminder 2, the next in 1 day if it keeps firing." in second.body
    resolved = tracker.process(
        [Signal("credit-default", "decay.realized", False, "info", "realized: not decayed")],
        now=T0 + timedelta(hours=30),
    )[0].notification
    assert isinstance(resolved, Notification)
    assert "Open from 2026-08-01 00:00 UTC to 2026-08-02 06:00 UTC (1 day 6 h); 2 reminders" in (
        resolved.body
    )


def test_a_second_tracker_on_the_same_store_keeps_the_schedule(store_url: str) -> None:
    """A restart (a new process, engine and tracker) neither repeats nor resets reminders."""
    first = create_store_engine(store_url)
    try:
        assert _replay(IncidentTracker(first, RecordingNotifier()), range(10)) == [1, 5]
    finally:
        first.dispose()
    second = create_store_engine(store_url)
    try:
        tracker = IncidentTracker(second, RecordingNotifier())
        (incident,) = open_incidents(second)
        assert incident["reminders_sent"] == 2
        assert tracker.next_reminder_at(incident) == T0 + timedelta(hours=29)
        assert _replay(tracker, range(10, 60)) == [29, 53]
    finally:
        second.dispose()


def test_an_undelivered_reminder_is_tried_again_and_does_not_advance(store_engine: Engine) -> None:
    class Flaky(RecordingNotifier):
        down = False

        def send(self, notification: Notification) -> bool:
            super().send(notification)
            return not self.down

    notifier = Flaky()
    tracker = IncidentTracker(store_engine, notifier)
    assert _replay(tracker, range(1)) == []
    notifier.down = True
    assert _replay(tracker, range(1, 4)) == [1, 2, 3], "tried at every run while it fails"
    notifier.down = False
    assert _replay(tracker, range(4, 10)) == [4, 8], "then the backoff goes on from 4 h"
    (incident,) = open_incidents(store_engine)
    assert incident["reminders_sent"] == 2


def test_a_fresh_firing_is_told_at_once_and_restarts_the_backoff(store_engine: Engine) -> None:
    """A second gate rejection while the first is still open is news, not a reminder."""
    notifier = RecordingNotifier()
    tracker = IncidentTracker(store_engine, notifier)

    def rejected(version: int, hour: float) -> str:
        signal = Signal("m", "gate", True, "warning", f"version {version} rejected", fresh=True)
        return tracker.process([signal], now=T0 + timedelta(hours=hour))[0].action

    assert [rejected(4, 0), rejected(5, 0.5)] == ["opened", "renewed"]
    assert [n.kind for n in notifier.sent] == ["opened", "opened"]
    assert "version 5 rejected" in notifier.sent[-1].body
    (incident,) = open_incidents(store_engine)
    assert incident["message"] == "version 5 rejected"
    assert tracker.next_reminder_at(incident) == T0 + timedelta(hours=1.5)


def test_backoff_and_cooldown_config() -> None:
    assert AlertsConfig().reminder_backoff_minutes == [60.0, 240.0, 1440.0]
    assert ReminderBackoff.from_minutes([60, 240, 1440]).describe() == (
        "1 h, 4 h, 1 day, then every 1 day"
    )
    cfg = DecayguardConfig(alerts={"reminder_backoff_minutes": [30, 120]})
    tracker = IncidentTracker.for_config(cfg, sa.create_engine("sqlite://"))
    assert tracker.backoff.gaps == (timedelta(minutes=30), timedelta(minutes=120))
    assert tracker.dashboard == "http://127.0.0.1:8090"
    with pytest.warns(DeprecationWarning, match="reminder_backoff_minutes"):
        old = AlertsConfig(cooldown_minutes=15)
    assert old.reminder_backoff_minutes == [15]
    with pytest.raises(ValueError, match="reminder_backoff_minutes"):
        AlertsConfig(reminder_backoff_minutes=[60, -1])
    with pytest.raises(ValueError, match="reminder_backoff_minutes"):
        AlertsConfig(reminder_backoff_minutes=[])


def test_a_bad_backoff_in_the_file_names_the_key(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "decayguard.yaml").write_text("alerts:\n  reminder_backoff_minutes: [60, -5]\n")
    with pytest.raises(ConfigError, match=r"alerts\.reminder_backoff_minutes: .*0 minutes or more"):
        load_config(folder)


# -- the migration ---------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty, unmigrated store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('blank')}/store.db"
    base = request.getfixturevalue("pg_database_url")
    schema = f"m{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture
def blank_engine(blank_url: str) -> Iterator[Engine]:
    engine = create_store_engine(blank_url)
    yield engine
    engine.dispose()


def test_migration_0006_keeps_open_incidents_and_their_schedule(blank_engine: Engine) -> None:
    from alembic import command

    assert upgrade(blank_engine, "0005") == "0005"
    with blank_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO alerts (model_name, rule, fingerprint, severity, status, message,"
                " opened_at, last_seen_at, last_notified_at) VALUES ('credit-default',"
                " 'decay.realized', 'credit-default/decay.realized', 'critical', 'open', 'old',"
                " :t, :t, :t)"
            ),
            {"t": T0.replace(tzinfo=None)},
        )
    assert upgrade(blank_engine) == "0006"
    (incident,) = open_incidents(blank_engine)
    assert incident["reminders_sent"] == 0
    tracker = IncidentTracker(blank_engine, RecordingNotifier())
    assert tracker.next_reminder_at(incident) == T0 + timedelta(hours=1)
    assert _replay(tracker, range(1, 6)) == [1, 5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        command.downgrade(alembic_config(blank_engine), "0005")
    assert current_revision(blank_engine) == "0005"
    with blank_engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("alerts")}
    assert "reminders_sent" not in columns
    assert "last_notified_at" in columns
