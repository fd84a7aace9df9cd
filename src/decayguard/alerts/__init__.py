"""Alerts: signals from each monitor run become incidents (deduplicated, with reminders that
back off and a "resolved" message), sent through apprise URLs with a link to the dashboard
view, and exposed as Prometheus gauges."""

from decayguard.alerts.backoff import ReminderBackoff
from decayguard.alerts.incidents import AlertOutcome, IncidentTracker, Signal
from decayguard.alerts.links import dashboard_link
from decayguard.alerts.notify import AppriseNotifier, Notification, Notifier, RecordingNotifier

__all__ = [
    "AlertOutcome",
    "AppriseNotifier",
    "IncidentTracker",
    "Notification",
    "Notifier",
    "RecordingNotifier",
    "ReminderBackoff",
    "Signal",
    "dashboard_link",
]
