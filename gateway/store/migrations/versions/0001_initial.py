"""Initial schema: incidents, resources, dispatches, the delivery outbox and the audit trail.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

F = sa.Float
S = sa.String


def upgrade() -> None:
    op.create_table(
        "sequences",
        sa.Column("name", S(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reference", S(32), nullable=False, unique=True),
        sa.Column("source", S(32), nullable=False),
        sa.Column("state", S(16), nullable=False, index=True),
        sa.Column("created_at", F, nullable=False),
        sa.Column("updated_at", F, nullable=False),
        sa.Column("caller_number", S(64), index=True),
        sa.Column("caller_name", S(200)),
        sa.Column("call_id", S(200), index=True),
        sa.Column("called_number", S(64)),
        sa.Column("desk", S(64)),
        sa.Column("nature", sa.Text),
        sa.Column("location", sa.Text),
        sa.Column("category", S(64)),
        sa.Column("classification", S(32)),
        sa.Column("impact", sa.Integer),
        sa.Column("urgency", sa.Integer),
        sa.Column("priority", S(4)),
        sa.Column("recommendation", sa.JSON, nullable=False),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("lessons", sa.Text),
        *[
            sa.Column(name, F)
            for name in (
                "call_answered_at",
                "call_ended_at",
                "triaged_at",
                "dispatched_at",
                "acknowledged_at",
                "on_scene_at",
                "resolved_at",
                "closed_at",
                "cancelled_at",
            )
        ],
    )
    op.create_table(
        "resources",
        sa.Column("id", S(64), primary_key=True),
        sa.Column("name", S(200), nullable=False),
        sa.Column("capabilities", sa.JSON, nullable=False),
        sa.Column("contact_plan", sa.JSON, nullable=False),
        sa.Column("priorities", sa.JSON, nullable=False),
        sa.Column("status", S(16), nullable=False),
        sa.Column("status_since", F, nullable=False),
        sa.Column("last_contact_at", F),
        sa.Column("current_incident", S(32)),
    )
    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
        sa.Column("created_at", F, nullable=False),
        sa.Column("reason", S(32), nullable=False),
        sa.Column("created_by", S(64), nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dispatch_id", sa.Integer, sa.ForeignKey("dispatches.id"), nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
        sa.Column("recipient_kind", S(16), nullable=False),
        sa.Column("recipient_id", S(64), nullable=False, index=True),
        sa.Column("purpose", S(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("priority", S(4), nullable=False),
        sa.Column("mode", S(16), nullable=False),
        sa.Column("needs_ack", sa.Boolean, nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("state", S(20), nullable=False),
        sa.Column("created_at", F, nullable=False),
        sa.Column("updated_at", F, nullable=False),
        sa.Column("next_endpoint", sa.Integer, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("confirm_timeout", F, nullable=False),
        sa.Column("ack_timeout", F, nullable=False),
        sa.Column("acknowledged_at", F),
        sa.Column("ack_evidence", sa.JSON),
        sa.Column("completed_at", F, index=True),
        sa.Column("outcome", S(16)),
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), nullable=False, index=True),
        sa.Column("endpoint_index", sa.Integer, nullable=False),
        sa.Column("channel", S(64), nullable=False),
        sa.Column("address", S(200), nullable=False),
        sa.Column("state", S(20), nullable=False),
        sa.Column("tries", sa.Integer, nullable=False),
        sa.Column("created_at", F, nullable=False),
        sa.Column("updated_at", F, nullable=False),
        *[
            sa.Column(name, F)
            for name in ("next_try_at", "sent_at", "delivered_at", "confirm_deadline_at", "ack_deadline_at")
        ],
        sa.Column("channel_ref", S(200)),
        sa.Column("closed_reason", S(64)),
        sa.Column("evidence", sa.JSON, nullable=False),
    )
    op.create_index("ix_attempts_open", "attempts", ["closed_reason", "state"])
    op.create_index("ix_attempts_channel_ref", "attempts", ["channel", "channel_ref"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", F, nullable=False),
        sa.Column("kind", S(64), nullable=False),
        sa.Column("actor", S(64), nullable=False),
        sa.Column("incident_id", sa.Integer, index=True),
        sa.Column("delivery_id", sa.Integer),
        sa.Column("attempt_id", sa.Integer),
        sa.Column("data", sa.JSON, nullable=False),
    )
    _append_only_audit()


def _append_only_audit() -> None:
    """The audit trail is append-only: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit "
                "BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'audit is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )


def downgrade() -> None:
    for table in ("audit", "attempts", "deliveries", "dispatches", "resources", "incidents", "sequences"):
        op.drop_table(table)
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
