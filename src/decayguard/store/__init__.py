"""The decayguard store: predictions, labels, reviews, metric points, alerts, deployments
and the audit log, on SQLite (WAL) or PostgreSQL, migrated by Alembic."""

from decayguard.store.deployments import active_version, record_deployment
from decayguard.store.engine import create_store_engine
from decayguard.store.events import (
    MetricPoint,
    audit,
    read_audit,
    read_metric_points,
    write_metric_points,
)
from decayguard.store.labels import (
    LabelIngestResult,
    LabelRecord,
    current_labels,
    ingest_labels,
    label_history,
)
from decayguard.store.migrate import current_revision, ensure_schema, head_revision, upgrade
from decayguard.store.predictions import (
    InsertResult,
    PredictionRecord,
    PredictionWindow,
    count_predictions,
    get_prediction,
    insert_predictions,
    read_window,
)
from decayguard.store.reviews import (
    ReviewProgress,
    ReviewRecord,
    pending_reviews,
    record_review,
    review_history,
    review_progress,
    reviewed_sample,
)

__all__ = [
    "InsertResult",
    "LabelIngestResult",
    "LabelRecord",
    "MetricPoint",
    "PredictionRecord",
    "PredictionWindow",
    "ReviewProgress",
    "ReviewRecord",
    "active_version",
    "audit",
    "count_predictions",
    "create_store_engine",
    "current_labels",
    "current_revision",
    "ensure_schema",
    "get_prediction",
    "head_revision",
    "ingest_labels",
    "insert_predictions",
    "label_history",
    "pending_reviews",
    "read_audit",
    "read_metric_points",
    "read_window",
    "record_deployment",
    "record_review",
    "review_history",
    "review_progress",
    "reviewed_sample",
    "upgrade",
    "write_metric_points",
]
