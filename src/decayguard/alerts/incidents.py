"""Incidents: one incident, one alert, reminders after a cooldown, and a "resolved" message.

Each monitor run produces :class:`Signal` objects — one per rule, firing or not. The
:class:`IncidentTracker` keeps the state in the store's ``alerts`` table, so deduplication
survives restarts and works across processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.alerts.notify import AppriseNotifier, Notification, Notifier, Severity
from decayguard.config import DecayguardConfig
from decayguard.store.events import audit
from decayguard.store.schema import alerts


@dataclass(frozen=True, slots=True)
class Signal:
    """The verdict of one alert rule for one model at one monitor run."""

    model_name: str
    rule: str
    firing: bool
    severity: Severity
    message: str

    @property
    def fingerprint(self) -> str:
        return f"{self.model_name}/{self.rule}"


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What the tracker did with one signal."""

    fingerprint: str
    action: str  # opened | reminded | ongoing | resolved | quiet
    notification: Notification | None


class IncidentTracker:
    """Turns signals into incidents and notifications.

    ``cooldown`` is the least time between two notifications of the same open incident;
    an incident that stops firing is resolved (and said so) at once.
    """

    def __init__(self, engine: Engine, notifier: Notifier, cooldown: timedelta) -> None:
        self.engine = engine
        self.notifier = notifier
        self.cooldown = cooldown

    @classmethod
    def for_config(
        cls, cfg: DecayguardConfig, engine: Engine, notifier: Notifier | None = None
    ) -> IncidentTracker:
        """The project's tracker: its apprise URLs (or ``notifier``) and alert cooldown."""
        return cls(
            engine,
            notifier or AppriseNotifier(cfg.alerts.apprise_urls),
            cooldown=timedelta(minutes=cfg.alerts.cooldown_minutes),
        )

    def process(self, signals: Iterable[Signal], now: datetime | None = None) -> list[AlertOutcome]:
        now = now or datetime.now(UTC)
        return [self._one(signal, now) for signal in signals]

    def _open_incident(self, fingerprint: str) -> sa.Row | None:  # type: ignore[type-arg]
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(alerts)
                .where(alerts.c.fingerprint == fingerprint, alerts.c.status == "open")
                .order_by(alerts.c.id.desc())
            ).first()

    def _one(self, signal: Signal, now: datetime) -> AlertOutcome:
        incident = self._open_incident(signal.fingerprint)
        if signal.firing and incident is None:
            note = Notification(
                title=f"[{signal.severity.upper()}] {signal.model_name}: {signal.rule}",
                body=signal.message,
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
                    },
                )
            audit(
                self.engine,
                "alert.opened",
                model_name=signal.model_name,
                details={"rule": signal.rule, "message": signal.message},
            )
            return AlertOutcome(signal.fingerprint, "opened", note)
        if signal.firing and incident is not None:
            last = incident.last_notified_at
            due = last is None or now - last >= self.cooldown
            reminder: Notification | None = None
            values: dict[str, object] = {"last_seen_at": now, "message": signal.message}
            if due:
                reminder = Notification(
                    title=f"[{signal.severity.upper()}] still firing — {signal.model_name}: "
                    f"{signal.rule}",
                    body=f"{signal.message}\n(open since {incident.opened_at:%Y-%m-%d %H:%M} UTC)",
                    severity=signal.severity,
                    kind="reminder",
                )
                if self.notifier.send(reminder):
                    values["last_notified_at"] = now
            with self.engine.begin() as conn:
                conn.execute(alerts.update().where(alerts.c.id == incident.id).values(**values))
            return AlertOutcome(signal.fingerprint, "reminded" if due else "ongoing", reminder)
        if not signal.firing and incident is not None:
            note = Notification(
                title=f"[RESOLVED] {signal.model_name}: {signal.rule}",
                body=f"{signal.message}\n(open since {incident.opened_at:%Y-%m-%d %H:%M} UTC)",
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
        return AlertOutcome(signal.fingerprint, "quiet", None)


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
