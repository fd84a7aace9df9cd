"""The release state machine, and paired (silent) predictions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("paired_id", sa.String(64), nullable=True))
        batch.create_index("ix_predictions_paired_id", ["paired_id"])
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("parent_version", sa.String(100), nullable=True),
        sa.Column("traffic_share", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trial_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.UniqueConstraint("model_name", "version", name="uq_releases_model_name_version"),
    )
    champion = sa.text("stage = 'champion'")
    op.create_index(
        "uq_releases_champion",
        "releases",
        ["model_name"],
        unique=True,
        sqlite_where=champion,
        postgresql_where=champion,
    )
    candidate = sa.text("stage IN ('shadow', 'canary')")
    op.create_index(
        "uq_releases_candidate",
        "releases",
        ["model_name"],
        unique=True,
        sqlite_where=candidate,
        postgresql_where=candidate,
    )
    op.create_table(
        "release_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("from_stage", sa.String(20), nullable=True),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_release_transitions"),
    )
    op.create_index(
        "ix_release_transitions_model_name_created_at",
        "release_transitions",
        ["model_name", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_release_transitions_model_name_created_at", table_name="release_transitions")
    op.drop_table("release_transitions")
    op.drop_index("uq_releases_candidate", table_name="releases")
    op.drop_index("uq_releases_champion", table_name="releases")
    op.drop_table("releases")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_index("ix_predictions_paired_id")
        batch.drop_column("paired_id")
