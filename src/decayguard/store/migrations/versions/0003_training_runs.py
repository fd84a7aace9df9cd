"""Retraining runs, with the partial unique indexes that make retraining single-flight.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("trigger_key", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_version", sa.String(100), nullable=True),
        sa.Column("version", sa.String(100), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_training_runs"),
    )
    op.create_index("ix_training_runs_model_name_as_of", "training_runs", ["model_name", "as_of"])
    running = sa.text("status = 'running'")
    op.create_index(
        "uq_training_runs_running",
        "training_runs",
        ["model_name"],
        unique=True,
        sqlite_where=running,
        postgresql_where=running,
    )
    held = sa.text("status IN ('running', 'registered', 'failed')")
    op.create_index(
        "uq_training_runs_trigger",
        "training_runs",
        ["model_name", "trigger_key"],
        unique=True,
        sqlite_where=held,
        postgresql_where=held,
    )


def downgrade() -> None:
    op.drop_index("uq_training_runs_trigger", table_name="training_runs")
    op.drop_index("uq_training_runs_running", table_name="training_runs")
    op.drop_index("ix_training_runs_model_name_as_of", table_name="training_runs")
    op.drop_table("training_runs")
