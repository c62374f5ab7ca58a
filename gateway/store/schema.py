"""The current schema, as SQLAlchemy Core tables. Migrations in `migrations/versions` build it.

Times are POSIX seconds (double precision). JSON columns hold lists and small documents.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

sequences = sa.Table(
    "sequences",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# Personal data kept apart (docs/privacy.md): one row per record that names a person (today: the
# caller of an incident). Incidents refer to it by subject_id; erasure and the retention purge
# overwrite it here, so the append-only audit trail never needs to change.
subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(64), index=True),
    sa.Column("name", sa.String(200)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("erased_at", sa.Float),  # set by erasure or the retention purge; the data is gone
    sa.Column("erased_why", sa.String(16)),  # "erasure" or "retention"
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(32), nullable=False, unique=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), index=True),
    sa.Column("call_id", sa.String(200), index=True),
    sa.Column("called_number", sa.String(64)),
    sa.Column("desk", sa.String(64)),
    sa.Column("nature", sa.Text),
    sa.Column("location", sa.Text),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("category", sa.String(64)),
    sa.Column("classification", sa.String(32)),
    sa.Column("impact", sa.Integer),
    sa.Column("urgency", sa.Integer),
    sa.Column("priority", sa.String(4)),
    sa.Column("recommendation", sa.JSON, nullable=False),
    sa.Column("escalation_level", sa.Integer, nullable=False),
    sa.Column("lessons", sa.Text),
    sa.Column("merged_into", sa.String(32), index=True),
    sa.Column("call_answered_at", sa.Float),
    sa.Column("call_ended_at", sa.Float),
    sa.Column("triaged_at", sa.Float),
    sa.Column("dispatched_at", sa.Float),
    sa.Column("acknowledged_at", sa.Float),
    sa.Column("on_scene_at", sa.Float),
    sa.Column("resolved_at", sa.Float),
    sa.Column("closed_at", sa.Float),
    sa.Column("cancelled_at", sa.Float),
)

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("capabilities", sa.JSON, nullable=False),
    sa.Column("contact_plan", sa.JSON, nullable=False),
    sa.Column("priorities", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_since", sa.Float, nullable=False),
    sa.Column("last_contact_at", sa.Float),
    sa.Column("current_incident", sa.String(32)),
    # The last position reported (migration 0017): written only by `set_position`, never by
    # `update_resource`, so a status change cannot put back an older fix.
    sa.Column("position_lat", sa.Float),
    sa.Column("position_lon", sa.Float),
    sa.Column("position_at", sa.Float),
    sa.Column("position_source", sa.String(64)),
    sa.Column("position_audited_at", sa.Float),
)

dispatches = sa.Table(
    "dispatches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dispatch_id", sa.Integer, sa.ForeignKey("dispatches.id"), nullable=False),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("recipient_kind", sa.String(16), nullable=False),
    sa.Column("recipient_id", sa.String(64), nullable=False, index=True),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("priority", sa.String(4), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("needs_ack", sa.Boolean, nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("next_endpoint", sa.Integer, nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("confirm_timeout", sa.Float, nullable=False),
    sa.Column("ack_timeout", sa.Float, nullable=False),
    sa.Column("acknowledged_at", sa.Float),
    sa.Column("ack_evidence", sa.JSON),
    sa.Column("completed_at", sa.Float, index=True),
    sa.Column("outcome", sa.String(16)),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), nullable=False, index=True),
    sa.Column("endpoint_index", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("next_try_at", sa.Float),
    sa.Column("sent_at", sa.Float),
    sa.Column("delivered_at", sa.Float),
    sa.Column("confirm_deadline_at", sa.Float),
    sa.Column("ack_deadline_at", sa.Float),
    sa.Column("channel_ref", sa.String(200)),
    sa.Column("closed_reason", sa.String(64)),
    sa.Column("evidence", sa.JSON, nullable=False),
    # Several nodes (migration 0012): the node sending this attempt and until when its lease holds.
    sa.Column("lease_node", sa.String(64)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Index("ix_attempts_open", "closed_reason", "state"),
    sa.Index("ix_attempts_channel_ref", "channel", "channel_ref"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.Integer, index=True),
    sa.Column("delivery_id", sa.Integer),
    sa.Column("attempt_id", sa.Integer),
    sa.Column("data", sa.JSON, nullable=False),
)

# The answers to a category's scripted questions ([[triage.categories]]), one row per question.
incident_answers = sa.Table(
    "incident_answers",
    metadata,
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), primary_key=True),
    sa.Column("question", sa.String(40), primary_key=True),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("answered_at", sa.Float, nullable=False),
    sa.Column("answered_by", sa.String(64), nullable=False),
)


# One row per node of a cluster, renewed by its heartbeat (gateway/cluster/heartbeat.py).
nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("hosts", sa.JSON, nullable=False),
    sa.Column("api_url", sa.String(200), nullable=False),
)

# Stakeholder updates (gateway/services/updates.py): one row per group told about a stage (or on
# the timer); the dispatch's deliveries carry the messages (migration 0017).
stakeholder_updates = sa.Table(
    "stakeholder_updates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("group_name", sa.String(64), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("dispatch_id", sa.Integer, sa.ForeignKey("dispatches.id"), nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
)

# The caller's opt-in satisfaction survey (gateway/services/survey.py), one per incident. The
# number stays in `subjects` (the survey names the subject row), so erasure and the purge reach it.
surveys = sa.Table(
    "surveys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, unique=True),
    sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), nullable=False),
    # consented -> sent -> answered | expired; withdrawn (consent taken back before the send)
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
