"""The decayguard store's tables (SQLAlchemy Core).

Layout choice, for reading large windows fast: each logged prediction has one
narrow row in ``predictions`` (ids, time, model, arm, prediction, score and the
review-sampling inclusion probability: what joins and the review queue need),
while the full record — every input and output — is written once more per
*batch* as one Arrow IPC blob in ``prediction_batches``. Reading a 1M-row window
decodes about a thousand columnar blobs instead of a million JSON documents.
The schema is owned by the Alembic migrations in ``store/migrations``; a test
checks that they produce exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UtcDateTimeType(sa.types.TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite stores UTC text, so ranges compare as
    strings correctly. Naive datetimes are taken to be UTC already.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return as_utc(value)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UtcDateTime = UtcDateTimeType()

prediction_batches = sa.Table(
    "prediction_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("ts_min", UtcDateTime, nullable=False),
    sa.Column("ts_max", UtcDateTime, nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Index(None, "model_name", "ts_max", "ts_min"),
)

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("ts", UtcDateTime, nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("arm", sa.String(20), nullable=False),
    sa.Column("entity_key", sa.String(200), nullable=True),
    sa.Column("prediction", sa.String(200), nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("inclusion_prob", sa.Float, nullable=True),
    sa.Column("review_sampled", sa.Boolean, nullable=False, default=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("prediction_batches.id"), nullable=False),
    sa.Column("batch_row", sa.Integer, nullable=False),
    # A silent row (one arm scoring a request another arm answered) names the answered
    # prediction: labels and reviews of the request reach both arms through it.
    sa.Column("paired_id", sa.String(64), nullable=True),
    sa.Index(None, "model_name", "ts"),
    sa.Index(None, "paired_id"),
    sa.Index(None, "model_name", "entity_key", "ts"),
)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("label_key", sa.String(300), nullable=False),
    sa.Column("prediction_id", sa.String(64), nullable=True),
    sa.Column("entity_key", sa.String(200), nullable=True),
    sa.Column("event_time", UtcDateTime, nullable=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("superseded_at", UtcDateTime, nullable=True),
    sa.Index(None, "model_name", "label_key"),
    sa.Index(None, "prediction_id"),
)
# At most one current value per label key: two concurrent deliveries cannot both win.
sa.Index(
    "uq_labels_current",
    labels.c.model_name,
    labels.c.label_key,
    unique=True,
    sqlite_where=labels.c.superseded_at.is_(None),
    postgresql_where=labels.c.superseded_at.is_(None),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", sa.String(64), sa.ForeignKey("predictions.id"), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("reviewer", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("value", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "prediction_id"),
    sa.Index(None, "model_name", "created_at"),
)

metric_points = sa.Table(
    "metric_points",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(100), nullable=True),
    sa.Column("window_start", UtcDateTime, nullable=False),
    sa.Column("window_end", UtcDateTime, nullable=False),
    sa.Column("strategy", sa.String(20), nullable=False),
    sa.Column("metric", sa.String(100), nullable=False),
    sa.Column("feature", sa.String(200), nullable=True),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("lower", sa.Float, nullable=True),
    sa.Column("upper", sa.Float, nullable=True),
    sa.Column("n", sa.Integer, nullable=True),
    sa.Column("coverage", sa.Float, nullable=True),
    sa.Column("provisional", sa.Boolean, nullable=False, default=False),
    sa.Column("flagged", sa.Boolean, nullable=False, default=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "model_name", "metric", "window_end"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("fingerprint", sa.String(300), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("last_notified_at", UtcDateTime, nullable=True),
    sa.Column("resolved_at", UtcDateTime, nullable=True),
    # Reminders sent since the incident was last told as new: the next one is due
    # ``alerts.reminder_backoff_minutes[reminders_sent]`` after ``last_notified_at``.
    sa.Column("reminders_sent", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Index(None, "fingerprint", "status"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("traffic_share", sa.Float, nullable=True),
    sa.Column("artifact_uri", sa.Text, nullable=True),
    sa.Column("artifact_sha256", sa.String(64), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Index(None, "model_name", "status"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
    sa.Index(None, "model_name", "ts"),
)

# One row per retraining attempt. Two partial unique indexes make single-flight a property of
# the store rather than of the orchestrator: at most one running retraining per model, and at
# most one retraining per trigger window (a re-delivered event finds its window taken).
TRAINING_HELD_STATUSES = ("running", "registered", "failed")
training_runs = sa.Table(
    "training_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False),
    sa.Column("trigger_key", sa.String(300), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("as_of", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("lease_expires_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("parent_version", sa.String(100), nullable=True),
    sa.Column("version", sa.String(100), nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
    sa.Index(None, "model_name", "as_of"),
)
sa.Index(
    "uq_training_runs_running",
    training_runs.c.model_name,
    unique=True,
    sqlite_where=training_runs.c.status == "running",
    postgresql_where=training_runs.c.status == "running",
)
sa.Index(
    "uq_training_runs_trigger",
    training_runs.c.model_name,
    training_runs.c.trigger_key,
    unique=True,
    sqlite_where=training_runs.c.status.in_(TRAINING_HELD_STATUSES),
    postgresql_where=training_runs.c.status.in_(TRAINING_HELD_STATUSES),
)

# One row per gate decision on a registered version (re-runs add rows; the latest counts).
gate_reports = sa.Table(
    "gate_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("version", sa.String(100), nullable=False),
    sa.Column("champion_version", sa.String(100), nullable=True),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "model_name", "version"),
)

# The release state machine (decayguard.release): one row per model version with its stage, and
# one row per transition (who, why, on what evidence). A transition commits in one transaction
# with its audit row; its side effects (MLServer settings, MLflow alias, the store's deployment)
# follow, idempotently, and ``applied_at`` is set when they are all done: a transition whose
# ``applied_at`` is NULL after a crash is recovered by the next run.
RELEASE_CANDIDATE_STAGES = ("shadow", "canary")
releases = sa.Table(
    "releases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("version", sa.String(100), nullable=False),
    sa.Column("stage", sa.String(20), nullable=False),
    sa.Column("artifact_uri", sa.Text, nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("parent_version", sa.String(100), nullable=True),
    sa.Column("traffic_share", sa.Float, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("stage_since", UtcDateTime, nullable=False),
    sa.Column("trial_started_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("model_name", "version"),
)
# At most one champion, and at most one challenger on live traffic, per model.
sa.Index(
    "uq_releases_champion",
    releases.c.model_name,
    unique=True,
    sqlite_where=releases.c.stage == "champion",
    postgresql_where=releases.c.stage == "champion",
)
sa.Index(
    "uq_releases_candidate",
    releases.c.model_name,
    unique=True,
    sqlite_where=releases.c.stage.in_(RELEASE_CANDIDATE_STAGES),
    postgresql_where=releases.c.stage.in_(RELEASE_CANDIDATE_STAGES),
)

release_transitions = sa.Table(
    "release_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("version", sa.String(100), nullable=False),
    sa.Column("from_stage", sa.String(20), nullable=True),
    sa.Column("to_stage", sa.String(20), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=True),
    sa.Index(None, "model_name", "created_at"),
)
