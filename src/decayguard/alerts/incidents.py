"""Incidents: one incident, one alert, reminders that back off, and a "resolved" message.

Each monitor run produces :class:`Signal` objects — one per rule, firing or not. The
:class:`IncidentTracker` keeps the state in the store's ``alerts`` table (the incident, when
it was last told, how many reminders were sent), so deduplication and the reminder backoff
survive restarts and work across processes. Time is the ``now`` the caller passes: the
monitor's event time, simulated in a replay, so a replayed history backs off in its own time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.alerts.backoff import ReminderBackoff, human_duration
from decayguard.alerts.links import dashboard_url
from decayguard.alerts.notify import AppriseNotifier, Notification, Notifier, Severity
from decayguard.config import DecayguardConfig
from decayguard.store.events import audit
from decayguard.store.schema import alerts


@dataclass(frozen=True, slots=True)
class Signal:
    """The verdict of one alert rule for one model at one monitor run.

    ``message`` is one plain-text paragraph saying what moved and by how much; ``link``
    the dashboard view of it (the tracker links the model's dashboard when ``None``).
    ``fresh`` marks a firing that is news by itself (a new gate rejection): it is told at
    once even while the incident is open, and the reminder backoff starts again.
    """

    model_name: str
    rule: str
    firing: bool
    severity: Severity
    message: str
    link: str | None = None
    fresh: bool = False

    @property
    def fingerprint(self) -> str:
        return f"{self.model_name}/{self.rule}"


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What the tracker did with one signal."""

    fingerprint: str
    action: str  # opened | renewed | reminded | ongoing | resolved | quiet
    notification: Notification | None


def _stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


class IncidentTracker:
    """Turns signals into incidents and notifications.

    An open incident is told again after each gap of ``backoff`` (by default 1 h, 4 h,
    1 day, then daily); ``cooldown`` is the older fixed gap (``ReminderBackoff.fixed``).
    An incident that stops firing is resolved, and said so, at once. ``dashboard`` is the
    control API's base URL: signals without a link of their own link the model's dashboard.
    """

    def __init__(
        self,
        engine: Engine,
        notifier: Notifier,
        backoff: ReminderBackoff | None = None,
        *,
        cooldown: timedelta | None = None,
        dashboard: str | None = None,
    ) -> None:
        if backoff is not None and cooldown is not None:
            raise ValueError("give a reminder backoff or a fixed cooldown, not both")
        self.engine = engine
        self.notifier = notifier
        if backoff is None:
            backoff = (
                ReminderBackoff.from_minutes([60, 240, 1440])
                if cooldown is None
                else ReminderBackoff.fixed(cooldown)
            )
        self.backoff = backoff
        self.dashboard = dashboard

    @classmethod
    def for_config(
        cls, cfg: DecayguardConfig, engine: Engine, notifier: Notifier | None = None
    ) -> IncidentTracker:
        """The project's tracker: its apprise URLs (or ``notifier``), reminder backoff and
        dashboard."""
        return cls(
            engine,
            notifier or AppriseNotifier(cfg.alerts.apprise_urls),
            ReminderBackoff.from_minutes(cfg.alerts.reminder_backoff_minutes),
            dashboard=cfg.api.base_url,
        )

    def process(self, signals: Iterable[Signal], now: datetime | None = None) -> list[AlertOutcome]:
        """Open, remind, resolve: one :class:`AlertOutcome` per signal, at ``now`` (the
        event time; the wall clock when ``None``)."""
        now = now or datetime.now(UTC)
        return [self._one(signal, now) for signal in signals]

    def next_reminder_at(self, incident: Mapping[str, Any]) -> datetime | None:
        """When an open incident (an ``alerts`` row) is told again if it keeps firing;
        ``None``: at its next run (its last notification was not delivered)."""
        return self.backoff.next_at(incident["last_notified_at"], incident["reminders_sent"])

    def _open_incident(self, fingerprint: str) -> sa.Row | None:  # type: ignore[type-arg]
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(alerts)
                .where(alerts.c.fingerprint == fingerprint, alerts.c.status == "open")
                .order_by(alerts.c.id.desc())
            ).first()

    def _body(self, signal: Signal, *lines: str) -> str:
        """The message paragraph, then what the tracker adds, then the dashboard link."""
        link = signal.link
        if link is None and self.dashboard is not None:
            link = dashboard_url(self.dashboard, model=signal.model_name)
        tail = [line for line in lines if line]
        if link is not None:
            tail.append(f"Dashboard: {link}")
        return "\n\n".join([signal.message, "\n".join(tail)]) if tail else signal.message

    def _title(self, signal: Signal, prefix: str = "") -> str:
        return f"[{signal.severity.upper()}] {prefix}{signal.model_name}: {signal.rule}"

    def _one(self, signal: Signal, now: datetime) -> AlertOutcome:
        incident = self._open_incident(signal.fingerprint)
        if signal.firing and incident is None:
            return self._open(signal, now)
        if signal.firing and incident is not None:
            if signal.fresh:
                return self._renew(signal, incident, now)
            return self._remind(signal, incident, now)
        if not signal.firing and incident is not None:
            return self._resolve(signal, incident, now)
        return AlertOutcome(signal.fingerprint, "quiet", None)

    def _open(self, signal: Signal, now: datetime) -> AlertOutcome:
        note = Notification(
            title=self._title(signal),
            body=self._body(signal),
            severity=signal.severity,
            kind="opened",
        )
        delivered = self.notifier.send(note)
        with self.engine.begin() as conn:
            conn.execute(
                alerts.insert(),
                {
                    "model_name": signal.model_name,
                    "rule": signal.rule,
                    "fingerprint": signal.fingerprint,
                    "severity": signal.severity,
                    "status": "open",
                    "message": signal.message,
                    "opened_at": now,
                    "last_seen_at": now,
                    "last_notified_at": now if delivered else None,
                    "reminders_sent": 0,
                },
            )
        audit(
            self.engine,
            "alert.opened",
            model_name=signal.model_name,
            details={"rule": signal.rule, "message": signal.message},
        )
        return AlertOutcome(signal.fingerprint, "opened", note)

    def _renew(self, signal: Signal, incident: Any, now: datetime) -> AlertOutcome:
        note = Notification(
            title=self._title(signal),
            body=self._body(signal, f"Open since {_stamp(incident.opened_at)}."),
            severity=signal.severity,
            kind="opened",
        )
        values: dict[str, object] = {"last_seen_at": now, "message": signal.message}
        if self.notifier.send(note):
            values |= {"last_notified_at": now, "reminders_sent": 0}
        with self.engine.begin() as conn:
            conn.execute(alerts.update().where(alerts.c.id == incident.id).values(**values))
        audit(
            self.engine,
            "alert.renewed",
            model_name=signal.model_name,
            details={"rule": signal.rule, "message": signal.message},
        )
        return AlertOutcome(signal.fingerprint, "renewed", note)

    def _remind(self, signal: Signal, incident: Any, now: datetime) -> AlertOutcome:
        sent = int(incident.reminders_sent)
        due_at = self.backoff.next_at(incident.last_notified_at, sent)
        values: dict[str, object] = {"last_seen_at": now, "message": signal.message}
        reminder: Notification | None = None
        if due_at is None or now >= due_at:
            number = sent + 1
            reminder = Notification(
                title=self._title(signal, "still firing — "),
                body=self._body(
                    signal,
                    f"Open since {_stamp(incident.opened_at)}; reminder {number}, the next "
                    f"in {human_duration(self.backoff.gap(number))} if it keeps firing.",
                ),
                severity=signal.severity,
                kind="reminder",
            )
            if self.notifier.send(reminder):
                values |= {"last_notified_at": now, "reminders_sent": number}
        with self.engine.begin() as conn:
            conn.execute(alerts.update().where(alerts.c.id == incident.id).values(**values))
        return AlertOutcome(
            signal.fingerprint, "ongoing" if reminder is None else "reminded", reminder
        )

    def _resolve(self, signal: Signal, incident: Any, now: datetime) -> AlertOutcome:
        note = Notification(
            title=f"[RESOLVED] {signal.model_name}: {signal.rule}",
            body=self._body(
                signal,
                f"Open from {_stamp(incident.opened_at)} to {_stamp(now)} "
                f"({human_duration(now - incident.opened_at)}); "
                f"{int(incident.reminders_sent)} reminders sent.",
            ),
            severity="info",
            kind="resolved",
        )
        self.notifier.send(note)
        with self.engine.begin() as conn:
            conn.execute(
                alerts.update()
                .where(alerts.c.id == incident.id)
                .values(status="resolved", resolved_at=now, last_seen_at=now)
            )
        audit(
            self.engine,
            "alert.resolved",
            model_name=signal.model_name,
            details={"rule": signal.rule},
        )
        return AlertOutcome(signal.fingerprint, "resolved", note)


def open_incidents(engine: Engine, model_name: str | None = None) -> list[dict[str, object]]:
    query = sa.select(alerts).where(alerts.c.status == "open").order_by(alerts.c.id)
    if model_name is not None:
        query = query.where(alerts.c.model_name == model_name)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def all_incidents(engine: Engine, model_name: str | None = None) -> list[dict[str, object]]:
    query = sa.select(alerts).order_by(alerts.c.id)
    if model_name is not None:
        query = query.where(alerts.c.model_name == model_name)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
