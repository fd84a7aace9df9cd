"""Alerts delivered for real: apprise to a local JSON webhook and a local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from decayguard.alerts import AppriseNotifier, IncidentTracker, Signal
from decayguard.alerts.inbox import WebhookInbox
from decayguard.alerts.incidents import all_incidents, open_incidents
from decayguard.processes import free_port
from decayguard.store import read_audit


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    with WebhookInbox() as inbox:
        yield inbox.apprise_url, inbox.messages  # type: ignore[misc]


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[str, _Mailbox]]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield (
        f"mailto://127.0.0.1:{port}?from=decayguard@example.test&to=oncall@example.test"
        "&mode=insecure",
        box,
    )
    controller.stop()


def _signal(firing: bool) -> Signal:
    return Signal(
        "credit-default",
        "decay.labels",
        firing,
        "critical",
        "performance decay by labels: accuracy 0.70, upper 95% bound 0.73 < threshold 0.8"
        if firing
        else "labels: not decayed",
    )


def test_one_incident_one_alert_then_resolved_on_webhook_and_email(
    store_engine: Engine,
    webhook: tuple[str, list[dict[str, object]]],
    smtp: tuple[str, _Mailbox],
) -> None:
    url, received = webhook
    mail_url, box = smtp
    tracker = IncidentTracker(
        store_engine, AppriseNotifier([url, mail_url]), cooldown=timedelta(hours=1)
    )
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    outcomes = [
        tracker.process([_signal(True)], now=t0 + timedelta(minutes=m))[0].action
        for m in (0, 10, 20, 30)
    ]
    assert outcomes == ["opened", "ongoing", "ongoing", "ongoing"]
    assert len(received) == 1
    assert "decay.labels" in str(received[0]["title"])
    assert "0.73 < threshold 0.8" in str(received[0]["message"])
    assert received[0]["type"] == "failure"
    assert len(box.messages) == 1
    mail = message_from_bytes(box.messages[0])
    assert "decay.labels" in mail["Subject"]
    assert mail["To"] == "oncall@example.test"

    reminder = tracker.process([_signal(True)], now=t0 + timedelta(minutes=70))[0]
    assert reminder.action == "reminded"
    assert len(received) == 2

    resolved = tracker.process([_signal(False)], now=t0 + timedelta(minutes=80))[0]
    assert resolved.action == "resolved"
    assert len(received) == 3
    assert "RESOLVED" in str(received[-1]["title"])
    assert received[-1]["type"] == "success"
    assert open_incidents(store_engine) == []
    (incident,) = all_incidents(store_engine)
    assert incident["status"] == "resolved"
    assert [e["action"] for e in read_audit(store_engine, "credit-default")] == [
        "alert.opened",
        "alert.resolved",
    ]

    assert tracker.process([_signal(False)], now=t0 + timedelta(minutes=90))[0].action == "quiet"
    reopened = tracker.process([_signal(True)], now=t0 + timedelta(minutes=95))[0]
    assert reopened.action == "opened", "a new incident after resolution alerts again"


def test_a_dead_target_is_logged_and_the_incident_still_opens(store_engine: Engine) -> None:
    dead = f"json://127.0.0.1:{free_port()}/hook"
    tracker = IncidentTracker(store_engine, AppriseNotifier([dead]), cooldown=timedelta(0))
    outcome = tracker.process([_signal(True)])[0]
    assert outcome.action == "opened"
    (incident,) = open_incidents(store_engine)
    assert incident["last_notified_at"] is None, "undelivered: the next run tries again"
    again = tracker.process([_signal(True)])[0]
    assert again.action == "reminded"
