"""Personal data kept apart: caller numbers and names move from incidents to subjects.

Revision ID: 0015_privacy
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_privacy"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subjects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(64), index=True),
        sa.Column("name", sa.String(200)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("erased_at", sa.Float),
        sa.Column("erased_why", sa.String(16)),
    )
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    # Plain ALTER TABLE on both (SQLite >= 3.35 drops columns): a batch copy of incidents would
    # fight the foreign keys that dispatches and deliveries hold on it.
    if sqlite:
        op.execute("ALTER TABLE incidents ADD COLUMN subject_id INTEGER REFERENCES subjects (id)")
    else:
        op.add_column("incidents", sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id")))
    op.create_index("ix_incidents_subject_id", "incidents", ["subject_id"])
    held = conn.execute(
        sa.text(
            "SELECT id, caller_number, caller_name, created_at FROM incidents "
            "WHERE caller_number IS NOT NULL OR caller_name IS NOT NULL ORDER BY id"
        )
    ).all()
    for incident_id, number, name, created_at in held:
        subject_id = conn.execute(
            sa.text("INSERT INTO subjects (number, name, created_at) VALUES (:n, :m, :c) RETURNING id"),
            {"n": number, "m": name, "c": created_at},
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE incidents SET subject_id = :s WHERE id = :i"), {"s": subject_id, "i": incident_id}
        )
    op.drop_index("ix_incidents_caller_number", "incidents")
    for column in ("caller_number", "caller_name"):
        if sqlite:
            op.execute(f"ALTER TABLE incidents DROP COLUMN {column}")
        else:
            op.drop_column("incidents", column)


def downgrade() -> None:
    op.add_column("incidents", sa.Column("caller_number", sa.String(64)))
    op.add_column("incidents", sa.Column("caller_name", sa.String(200)))
    op.create_index("ix_incidents_caller_number", "incidents", ["caller_number"])
    op.execute(
        "UPDATE incidents SET caller_number = (SELECT number FROM subjects WHERE subjects.id = subject_id), "
        "caller_name = (SELECT name FROM subjects WHERE subjects.id = subject_id)"
    )
    op.drop_index("ix_incidents_subject_id", "incidents")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE incidents DROP COLUMN subject_id")
    else:
        op.drop_column("incidents", "subject_id")
    op.drop_table("subjects")
