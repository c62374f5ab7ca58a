"""Several nodes on one PostgreSQL database: a heartbeat row per node, and a lease (node, expiry)
on each attempt being sent, and on PostgreSQL a statement trigger that announces new audit rows
(`NOTIFY callout_events`, payload "<application_name>|<first id>|<last id>"), so every node's
WebSocket clients see every node's events (gateway/cluster/events.py; docs/architecture.md,
"Several nodes"). NOTIFY is delivered at commit, so the announced rows are visible.

Revision ID: 0012_cluster
Revises: 0016_desk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_cluster"
down_revision = "0016_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.Column("hosts", sa.JSON, nullable=False),
        sa.Column("api_url", sa.String(200), nullable=False),
    )
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("lease_node", sa.String(64)))
        batch.add_column(sa.Column("lease_expires_at", sa.Float))
    if op.get_bind().dialect.name != "postgresql":
        return
    # One notification per statement (the unit of work inserts audit rows in batches), carrying
    # the range of ids it added (PostgreSQL manual, CREATE TRIGGER, REFERENCING NEW TABLE).
    op.execute(
        "CREATE FUNCTION callout_audit_added() RETURNS trigger AS $$ BEGIN "
        "PERFORM pg_notify('callout_events', current_setting('application_name') || '|' || lo || '|' || hi) "
        "FROM (SELECT min(id) AS lo, max(id) AS hi FROM added) r WHERE lo IS NOT NULL; "
        "RETURN NULL; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER callout_audit_added AFTER INSERT ON audit REFERENCING NEW TABLE AS added "
        "FOR EACH STATEMENT EXECUTE FUNCTION callout_audit_added()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER callout_audit_added ON audit")
        op.execute("DROP FUNCTION callout_audit_added()")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_node")
    op.drop_table("nodes")
