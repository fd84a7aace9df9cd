"""Alerts: signals from each monitor run become incidents (deduplicated, with a cooldown and a
"resolved" message), sent through apprise URLs, and exposed as Prometheus gauges."""

from decayguard.alerts.incidents import AlertOutcome, IncidentTracker, Signal
from decayguard.alerts.notify import AppriseNotifier, Notification, Notifier, RecordingNotifier

__all__ = [
    "AlertOutcome",
    "AppriseNotifier",
    "IncidentTracker",
    "Notification",
    "Notifier",
    "RecordingNotifier",
    "Signal",
]
