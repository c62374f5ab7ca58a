"""The answers to a category's scripted questions, stored on the incident.

Revision ID: 0016_desk
Revises: 0015_privacy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_desk"
down_revision = "0015_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_answers",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("question", sa.String(40), primary_key=True),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("answered_at", sa.Float, nullable=False),
        sa.Column("answered_by", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident_answers")
