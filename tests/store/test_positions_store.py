"""The last fix per unit on SQLite and PostgreSQL: only ever forward in time, untouched by status
changes, and one audit claim per unit per interval."""

from __future__ import annotations

from gateway.domain.models import Endpoint, Position, Resource
from gateway.domain.states import UnitStatus


async def test_a_fix_only_moves_forward_and_survives_a_status_change(store):
    async with store.write() as tx:
        await tx.insert_resource(Resource("ENG-1", "Engine 1", ["fire"], [Endpoint("radio", "R1")]))
    async with store.write() as tx:
        stale_read = await tx.get_resource("ENG-1")  # a status change read the unit before the fix
        assert stale_read.position is None
    async with store.write() as tx:
        assert await tx.set_position("ENG-1", Position(51.5, -0.12, 1000.0, "aprs"))
        assert not await tx.set_position("ENG-1", Position(51.6, -0.12, 1000.0, "aprs"))  # same time: a copy
        assert not await tx.set_position("ENG-1", Position(51.6, -0.12, 999.0, "radio"))  # older
        assert not await tx.set_position("NOBODY", Position(0.0, 0.0, 2000.0, "radio"))
    async with store.write() as tx:
        stale_read.status = UnitStatus.EN_ROUTE
        await tx.update_resource(stale_read)  # writes the row it read, without a fix
    async with store.read() as tx:
        unit = await tx.get_resource("ENG-1")
    assert unit.status is UnitStatus.EN_ROUTE
    assert unit.position == Position(51.5, -0.12, 1000.0, "aprs")


async def test_one_audit_claim_per_unit_per_interval(store):
    async with store.write() as tx:
        await tx.insert_resource(Resource("ENG-1", "Engine 1", ["fire"], [Endpoint("radio", "R1")]))
        claims = [
            await tx.claim_position_audit("ENG-1", now, every=600) for now in (0.0, 10.0, 599.0, 600.0, 700.0)
        ]
    assert claims == [True, False, False, True, False]
    async with store.write() as tx:
        assert await tx.claim_position_audit("ENG-1", 5000.0, every=0)
        assert await tx.claim_position_audit("ENG-1", 5000.0, every=0)  # 0: every fix
