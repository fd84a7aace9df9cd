"""At most one current label per key (a partial unique index).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    current = sa.text("superseded_at IS NULL")
    op.create_index(
        "uq_labels_current",
        "labels",
        ["model_name", "label_key"],
        unique=True,
        sqlite_where=current,
        postgresql_where=current,
    )


def downgrade() -> None:
    op.drop_index("uq_labels_current", table_name="labels")
