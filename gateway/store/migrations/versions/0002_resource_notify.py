"""PostgreSQL: announce every change of a resource row (LISTEN/NOTIFY), so each node's resource
directory stays right when several nodes share the database (gateway/store/notify.py).

The payload is "<application_name>|<resource id>": a node skips its own changes, which it has
applied already. SQLite has one process and needs nothing.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHANNEL = "callout_resources"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION callout_resource_changed() RETURNS trigger AS $$ BEGIN "
        f"PERFORM pg_notify('{CHANNEL}', current_setting('application_name') || '|' || NEW.id); "
        "RETURN NULL; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER callout_resource_changed AFTER INSERT OR UPDATE ON resources "
        "FOR EACH ROW EXECUTE FUNCTION callout_resource_changed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER callout_resource_changed ON resources")
    op.execute("DROP FUNCTION callout_resource_changed()")
