"""An incident merged into another as a duplicate names the incident it was merged into.

Revision ID: 0017_merge
Revises: 0012_cluster
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_merge"
down_revision = "0017_updates_survey"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: a plain ALTER TABLE on SQLite and PostgreSQL alike.
    op.add_column("incidents", sa.Column("merged_into", sa.String(32)))
    op.create_index("ix_incidents_merged_into", "incidents", ["merged_into"])


def downgrade() -> None:
    op.drop_index("ix_incidents_merged_into", "incidents")
    op.drop_column("incidents", "merged_into")
