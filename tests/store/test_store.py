"""The one data-access layer on SQLite and PostgreSQL: schema, sequences, audit, transactions."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.bus import Bus
from gateway.clock import ManualClock
from gateway.domain.models import Incident
from gateway.domain.states import IncidentState
from gateway.errors import NotFound
from gateway.store import Store
from gateway.store.schema import metadata


def _incident(ref: str, now: float) -> Incident:
    return Incident(
        id=0,
        reference=ref,
        source="desk",
        state=IncidentState.NEW,
        created_at=now,
        updated_at=now,
        caller_number="+447700900123",
    )


async def test_migrations_build_exactly_the_declared_schema(store):
    def diff(sync_conn):
        return compare_metadata(MigrationContext.configure(sync_conn), metadata)

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_reopening_an_existing_store_keeps_its_data(store_url):
    clock = ManualClock()
    async with Store(store_url, bus=Bus(), clock=clock) as s, s.write() as tx:
        await tx.insert_incident(_incident("INC-2026-000001", clock.now()))
    async with Store(store_url, bus=Bus(), clock=clock) as s, s.read() as tx:
        assert (await tx.get_incident("INC-2026-000001")).caller_number == "+447700900123"


async def test_sequences_never_hand_out_a_number_twice_under_concurrency(store):
    async def take() -> int:
        async with store.write() as tx:
            return await tx.next_value("incident-2026")

    values = await asyncio.gather(*(take() for _ in range(40)))
    assert sorted(values) == list(range(1, 41))


async def test_audit_trail_is_append_only_in_the_database(store):
    async with store.write() as tx:
        await tx.record("test.event", data={"n": 1})
    for statement in ("UPDATE audit SET kind = 'x'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with store.write() as tx:
                await tx.conn.execute(sa.text(statement))
    async with store.read() as tx:
        rows = await tx.audit_since(0)
    assert [r["kind"] for r in rows] == ["test.event"]


async def test_a_failed_transaction_writes_nothing_and_publishes_nothing(store):
    sub = store.bus.subscribe()
    with pytest.raises(RuntimeError):
        async with store.write() as tx:
            await tx.insert_incident(_incident("INC-2026-000009", 0.0))
            await tx.record("incident.created", data={})
            raise RuntimeError("boom")
    async with store.read() as tx:
        with pytest.raises(NotFound):
            await tx.get_incident("INC-2026-000009")
        assert await tx.audit_since(0) == []
    assert sub._queue.empty()


async def test_events_are_published_only_after_commit(store):
    sub = store.bus.subscribe()
    async with store.write() as tx:
        await tx.record("one", data={})
        assert sub._queue.empty()
    event = await asyncio.wait_for(sub.get(), 1)
    assert event is not None and event.kind == "one" and event.audit_id is not None
