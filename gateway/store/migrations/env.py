"""Alembic environment: migrations run on the connection the store hands over at start."""

from __future__ import annotations

from alembic import context

from gateway.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the store drives migrations
    raise RuntimeError("callout runs its migrations from Store.open(); no offline mode")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
