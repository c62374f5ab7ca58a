"""The core under load: the resource directory, transactions retried and ordered, send outcomes
recorded whatever the store does, and bulk callouts (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random

import pytest
import sqlalchemy as sa

from adapters.base import Capabilities
from gateway.domain.states import DeliveryState, UnitStatus
from gateway.services.callout import Selection
from tests.support.engine import FIRE, FIRE_P1
from tests.support.waiting import until

UNITS = [
    {"id": f"U{i}", "capabilities": ["fire"], "contact_plan": [{"channel": "radio", "address": f"R{i}"}]}
    for i in range(1, 9)
]


async def test_the_directory_sees_a_status_change_before_the_next_recommendation(rig_factory):
    rig = await rig_factory()
    first = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    assert [r["resource_id"] for r in first.recommendation] == ["ENG-1"]  # three channels beat two
    await rig.gw.dispatch.dispatch(first.reference, None, actor="test")
    # ENG-1 is now busy: the next incident is offered ENG-2 first, without a store scan.
    second = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    assert [r["resource_id"] for r in second.recommendation] == ["ENG-2"]
    await rig.gw.units.set_unit_status("ENG-2", UnitStatus.OUT_OF_SERVICE, actor="test")
    third = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    assert [r["resource_id"] for r in third.recommendation] == ["ENG-1"]  # busy, but not out of service
    assert "busy (dispatched)" in third.recommendation[0]["rationale"]
    assert rig.gw.core.directory.get("ENG-2").status is UnitStatus.OUT_OF_SERVICE


async def test_a_rolled_back_status_change_never_reaches_the_directory(rig_factory):
    rig = await rig_factory()

    class Boom(Exception):
        pass

    async def change_then_fail() -> None:
        async with rig.gw.store.write() as tx:
            res = await tx.get_resource("ENG-1")
            res.status = UnitStatus.UNAVAILABLE
            await tx.update_resource(res)
            raise Boom

    with pytest.raises(Boom):
        await change_then_fail()
    assert rig.gw.core.directory.get("ENG-1").status is UnitStatus.AVAILABLE


async def _inject_record_failure(rig, on: bool) -> None:
    """A real store failure: a trigger refuses to mark any attempt `sent` while `fault` has a row."""
    sqlite = rig.gw.store.is_sqlite
    async with rig.gw.store.engine.begin() as conn:
        if not on:
            await conn.execute(sa.text("DELETE FROM fault"))
            return
        await conn.execute(sa.text("CREATE TABLE fault (x INTEGER)"))
        await conn.execute(sa.text("INSERT INTO fault VALUES (1)"))
        if sqlite:
            await conn.execute(
                sa.text(
                    "CREATE TRIGGER fail_sent BEFORE UPDATE OF state ON attempts "
                    "WHEN NEW.state = 'sent' AND (SELECT count(*) FROM fault) > 0 "
                    "BEGIN SELECT RAISE(ABORT, 'injected store failure'); END"
                )
            )
        else:
            await conn.execute(
                sa.text(
                    "CREATE FUNCTION fail_sent() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.state = 'sent' AND EXISTS (SELECT 1 FROM fault) THEN "
                    "RAISE EXCEPTION 'injected store failure'; END IF; RETURN NEW; END $$"
                )
            )
            await conn.execute(
                sa.text(
                    "CREATE TRIGGER fail_sent BEFORE UPDATE ON attempts FOR EACH ROW "
                    + "EXECUTE FUNCTION fail_sent()"
                )
            )


async def test_a_failed_outcome_record_is_retried_until_the_attempt_leaves_sending(rig_factory):
    rig = await rig_factory()
    await _inject_record_failure(rig, on=True)
    inc = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    await rig.gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
    await until(lambda: rig.ch["radio"].sent, "the radio took the message")
    failures = rig.gw.metrics.record_failures
    await until(lambda: failures._value.get() >= 2, "the store refused the record, more than once")
    (a,) = await rig.attempts(inc.reference)
    assert a.state is DeliveryState.SENDING  # nothing confirmed yet: not recorded as sent
    await _inject_record_failure(rig, on=False)
    await until_state(rig, inc.reference, DeliveryState.SENT)
    (a,) = await rig.attempts(inc.reference)
    assert a.channel_ref is not None and a.channel_ref.startswith("radio-")
    assert len(rig.ch["radio"].sent) == 1  # recorded, not sent again


async def until_state(rig, ref: str, state: DeliveryState) -> None:
    async def states() -> list[DeliveryState]:
        return [a.state for a in await rig.attempts(ref)]

    for _ in range(200):
        if await states() == [state]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"attempts of {ref}: {await states()}, expected [{state}]")


async def test_concurrent_dispatches_of_overlapping_units_all_land_once(rig_factory):
    rig = await rig_factory(resources=UNITS)
    rng = random.Random(7)
    refs = [(await rig.gw.incidents.create(FIRE, source="desk", actor="test")).reference for _ in range(24)]
    chosen = {ref: rng.sample([u["id"] for u in UNITS], 5) for ref in refs}

    async def go(ref: str) -> int:
        return len(await rig.gw.dispatch.dispatch(ref, chosen[ref], actor=f"desk-{ref}"))

    made = await asyncio.gather(*(go(ref) for ref in refs))  # 24 transactions at once, 5 units each
    assert made == [5] * 24
    for ref in refs:
        assert sorted(d.recipient_id for d in await rig.deliveries(ref)) == sorted(chosen[ref])


async def test_bulk_callout_pages_every_unit_with_a_capability_in_one_request(rig_factory):
    units = [
        {
            "id": f"U{i:03d}",
            "capabilities": ["fire"],
            "contact_plan": [{"channel": "radio", "address": f"R{i}"}],
        }
        for i in range(1, 61)
    ] + [{"id": "MED-1", "capabilities": ["medical"], "contact_plan": [{"channel": "sms", "address": "S1"}]}]
    rig = await rig_factory(resources=units)
    inc = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    await rig.gw.units.set_unit_status("U002", UnitStatus.OUT_OF_SERVICE, actor="test")
    result = await rig.gw.callout.callout(inc.reference, Selection("capability", "fire"), actor="test")
    assert len(result.selected) == 59 and "MED-1" not in result.selected
    assert result.skipped == [{"resource": "U002", "reason": "out_of_service"}]
    await rig.settle()
    assert len(rig.ch["radio"].sent) == 59
    deliveries = await rig.deliveries(inc.reference)
    assert len(deliveries) == 59 and len({d.dispatch_id for d in deliveries}) == 1
    assert all(rig.gw.core.directory.get(d.recipient_id).status is UnitStatus.DISPATCHED for d in deliveries)
    again = await rig.gw.callout.callout(inc.reference, Selection("resources", ["U001", "MED-1"]), actor="t")
    assert again.selected == ["MED-1"]
    assert again.skipped == [{"resource": "U001", "reason": "already paged for this incident"}]


async def test_a_unit_changed_by_another_node_reaches_this_nodes_directory(tmp_path):
    """Two gateways on one PostgreSQL database: a status set through one is seen by the other's
    directory (LISTEN/NOTIFY), so its next recommendation does not offer a unit out of service."""
    from contextlib import AsyncExitStack

    from tests.support.engine import two_nodes

    async with AsyncExitStack() as stack:
        a, b = await two_nodes(stack)
        await b.units.set_unit_status("ENG-1", UnitStatus.OUT_OF_SERVICE, actor="node-b")
        await until(
            lambda: a.core.directory.get("ENG-1").status is UnitStatus.OUT_OF_SERVICE,
            "node A's directory saw node B's change",
        )
        inc = await a.incidents.create(FIRE, source="desk", actor="test")
        assert [r["resource_id"] for r in inc.recommendation] == ["ENG-2"]


async def test_a_receipt_and_an_ack_on_two_channels_at_once_never_undo_each_other(rig_factory):
    """P1 goes out on every channel; the radio's failure report and the SMS ack are applied by
    two pumps at the same moment. Whatever order they land in, no transaction writes back a stale
    copy of the other's attempt (on PostgreSQL the delivery row is locked first)."""
    from adapters.base import DeliveryReport, RadioAck

    confirming = Capabilities(max_length=160, two_way=True, confirms_delivery=True)
    rig = await rig_factory(caps={"radio": confirming, "sms": confirming, "pager": confirming})
    inc = await rig.gw.incidents.create(FIRE_P1, source="desk", actor="test")
    await rig.gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
    await rig.settle()
    by_channel = {a.channel: a for a in await rig.attempts(inc.reference)}
    radio, sms = by_channel["radio"], by_channel["sms"]
    rig.ch["radio"].emit(DeliveryReport(channel_ref=radio.channel_ref, delivered=False, reason="bounce"))
    rig.ch["sms"].emit(RadioAck(address=sms.address, message_id=str(sms.id)))

    async def acked() -> bool:
        return any(a.state is DeliveryState.ACKNOWLEDGED for a in await rig.attempts(inc.reference))

    await until(acked, "the SMS ack recorded")
    await rig.settle()
    radio = {a.channel: a for a in await rig.attempts(inc.reference)}["radio"]
    if "attempt.failed_permanent" in await rig.kinds(inc.reference):  # the report landed first
        assert radio.state is DeliveryState.FAILED_PERMANENT
    else:  # the ack closed the radio attempt first; the report came too late to count
        assert (radio.state, radio.closed_reason) == (DeliveryState.SENT, "acknowledged")
