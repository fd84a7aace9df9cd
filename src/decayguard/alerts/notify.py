"""Sending notifications: apprise for every real target, a recording twin for unit tests."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

logger = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Notification:
    """One message about one incident: it opened, it is still open (reminder), or it resolved."""

    title: str
    body: str
    severity: Severity
    kind: Literal["opened", "reminder", "resolved", "event"]
    """``event``: not an incident but something that happened (a promotion, a rollback)."""


class Notifier(Protocol):
    """Anything that can deliver a :class:`Notification`; returns whether it was delivered."""

    def send(self, notification: Notification) -> bool: ...


class AppriseNotifier:
    """Deliver through apprise URLs: ``slack://``, ``mailto://``, ``json://`` webhooks, ..."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)

    def send(self, notification: Notification) -> bool:
        if not self.urls:
            logger.info("alert (no apprise URL configured): %s", notification.title)
            return True
        import apprise  # control env only

        client = apprise.Apprise()
        for url in self.urls:
            if not client.add(url):
                logger.error("ignoring an apprise URL that apprise cannot parse: %s", url)
        notify_type = {
            "info": apprise.NotifyType.INFO,
            "warning": apprise.NotifyType.WARNING,
            "critical": apprise.NotifyType.FAILURE,
        }[notification.severity]
        if notification.kind == "resolved":
            notify_type = apprise.NotifyType.SUCCESS
        delivered = bool(
            client.notify(title=notification.title, body=notification.body, notify_type=notify_type)
        )
        if not delivered:
            logger.error("an alert could not be delivered to every target: %s", notification.title)
        return delivered


@dataclass
class RecordingNotifier:
    """In-memory twin of a notifier: keeps what it was asked to send."""

    sent: list[Notification] = field(default_factory=list)

    def send(self, notification: Notification) -> bool:
        self.sent.append(notification)
        return True
