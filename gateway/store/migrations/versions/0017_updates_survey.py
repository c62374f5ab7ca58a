"""Stakeholder updates sent for an incident (the stage, the group, the dispatch whose deliveries
carried them) and the caller's opt-in satisfaction survey (consent, the SMS sent, the score).

Revision ID: 0017_updates_survey
Revises: 0012_cluster
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_updates_survey"
down_revision = "0012_cluster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stakeholder_updates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("dispatch_id", sa.Integer, sa.ForeignKey("dispatches.id"), nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
    )
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, unique=True),
        sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("consented_at", sa.Float, nullable=False),
        sa.Column("consented_by", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id")),
        sa.Column("sent_at", sa.Float),
        sa.Column("expires_at", sa.Float),
        sa.Column("score", sa.Integer),
        sa.Column("answered_at", sa.Float),
        sa.Column("clarified", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("surveys")
    op.drop_table("stakeholder_updates")
