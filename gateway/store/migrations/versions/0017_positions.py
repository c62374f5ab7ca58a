"""Unit positions and incident coordinates: the last fix of each unit on its resource row, the
coordinates of an incident's location on the incident (docs/architecture.md, "Unit positions").

Revision ID: 0017_positions
Revises: 0012_cluster
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_positions"
down_revision = "0017_merge"
branch_labels = None
depends_on = None

_RESOURCE_COLUMNS = (
    ("position_lat", sa.Float),
    ("position_lon", sa.Float),
    ("position_at", sa.Float),
    ("position_source", sa.String(64)),
    ("position_audited_at", sa.Float),
)


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        for name, kind in _RESOURCE_COLUMNS:
            batch.add_column(sa.Column(name, kind))
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("lat", sa.Float))
        batch.add_column(sa.Column("lon", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("lon")
        batch.drop_column("lat")
    with op.batch_alter_table("resources") as batch:
        for name, _ in reversed(_RESOURCE_COLUMNS):
            batch.drop_column(name)
