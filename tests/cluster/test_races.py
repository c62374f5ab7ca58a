"""A takeover racing an ack on the same delivery, on a private PostgreSQL database (gateway/cluster
/leases.py, gateway/store/queries/leases.py). Every writer locks a delivery before it reads the
delivery's attempts; a takeover does the same, so it never resends, nor writes back over, an
attempt an ack is closing, and the ack survives.

The interleaving is made exact with a row lock held by the test: the ack (the real
`AckService.ack_attempts`) has locked the delivery and read its attempts, and waits to write them
behind the incident row the test holds, while the takeover runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.cluster.leases import Leases
from gateway.domain.models import Attempt, Incident
from gateway.domain.states import CloseReason, DeliveryState
from gateway.services.acks import FieldAck
from gateway.settings import NodeSettings
from tests.support.cluster import fetch
from tests.support.engine import FIRE, make_settings, scripted_channels
from tests.support.pg import private_database
from tests.support.waiting import until

D = DeliveryState


async def _waiting_on_a_lock(db: str) -> bool:
    rows = await fetch(
        db,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'",
    )
    return bool(rows[0]["n"])


async def _sent_by_north_which_died(gw: Gateway) -> tuple[Incident, Attempt, float]:
    """ENG-1 dispatched; north marked the radio attempt `sending` and died: its lease has lapsed."""
    inc = await gw.incidents.create(FIRE, source="desk", actor="test")
    await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
    now = gw.clock.now() + 1
    async with gw.store.write() as tx:
        (a,) = await tx.due_attempts(now, 10)
        a.state = D.SENDING
        await tx.update_attempt(a)
        await tx.hold_leases([a.id], node="north", until=now - 1)
    return inc, a, now


def _south(gw: Gateway, *, hosts: list[str]) -> Leases:
    return Leases(
        store=gw.store,
        settings=NodeSettings(name="south", lease_seconds=10),
        clock=gw.clock,
        hosts=hosts,
        configured=["radio", "sms", "pager"],
    )


async def test_a_takeover_never_undoes_an_ack_under_way_on_the_same_delivery(tmp_path: Path) -> None:
    async with private_database() as db, Gateway(make_settings(db), channels=scripted_channels()) as gw:
        inc, a, now = await _sent_by_north_which_died(gw)
        south = _south(gw, hosts=["radio", "sms", "pager"])
        # The unit presses ACK for the message north sent (a field ack names the attempt).
        ack = FieldAck(a.id, via=(a.channel, a.address), evidence={"source": "radio"})
        async with gw.store.write() as holder:
            await holder.get_incident(inc.reference, for_update=True)
            acking = asyncio.ensure_future(gw.acks.ack_attempts([ack]))
            await until(lambda: _waiting_on_a_lock(db), "the ack waiting to write its rows")
            taken = await south.take_over(now, advance=gw.engine.advance)
            assert not acking.done()
        assert await acking == [True]
        later = await south.take_over(now + south.poll_every, advance=gw.engine.advance)

        assert [job[0].id for job in taken + later] == []  # nothing resent
        (row,) = await fetch(db, "SELECT state, closed_reason, lease_node FROM attempts")
        assert (row["state"], row["closed_reason"]) == (D.SENDING, CloseReason.ACKNOWLEDGED)
        assert row["lease_node"] == "north"
        kinds = [r["kind"] for r in await fetch(db, "SELECT kind FROM audit ORDER BY id")]
        assert "attempt.taken_over" not in kinds and "delivery.acknowledged" in kinds


@pytest.mark.parametrize("source", ["field", "desk"])
async def test_an_ack_waits_for_a_takeover_that_holds_the_delivery(tmp_path: Path, source: str) -> None:
    """The other order: south's takeover has locked the delivery (its channel is hosted by no live
    node, so the attempt fails over to the next endpoint) when the ack arrives, from the unit's
    radio (`ack_attempts`) or from the desk (`acknowledge`, which locks the incident first). The
    ack waits for the takeover to commit and then acknowledges on fresh rows: the failover and the
    ack both stand, and the endpoint the failover opened is cancelled, not sent."""
    async with private_database() as db, Gateway(make_settings(db), channels=scripted_channels()) as gw:
        inc, a, now = await _sent_by_north_which_died(gw)
        south = _south(gw, hosts=["sms", "pager"])  # not the radio: north hosted it alone
        south.started_at = now - 10  # up for a lease already: it has seen every live node
        moved = asyncio.Event()
        go_on = asyncio.Event()

        async def advance_slowly(tx, d):  # type: ignore[no-untyped-def]
            await gw.engine.advance(tx, d)
            moved.set()
            await go_on.wait()  # the takeover holds its locks here, uncommitted

        takeover = asyncio.ensure_future(south.take_over(now, advance=advance_slowly))
        await until(lambda: moved.is_set() or takeover.done(), "the takeover failing the radio over")
        assert moved.is_set(), await takeover
        if source == "field":
            ack = FieldAck(a.id, via=(a.channel, a.address), evidence={"source": "radio"})
            acking = asyncio.ensure_future(gw.acks.ack_attempts([ack]))
        else:
            acking = asyncio.ensure_future(gw.acks.acknowledge(inc.reference, "ENG-1", actor="desk"))
        await until(lambda: _waiting_on_a_lock(db), "the ack waiting for the takeover's lock")
        go_on.set()
        assert await takeover == []  # failed over, not resent here
        assert await acking

        rows = await fetch(db, "SELECT id, channel, state, closed_reason FROM attempts ORDER BY id")
        radio, sms = rows  # the failover opened the next endpoint; the ack closed it
        assert (radio["state"], radio["closed_reason"]) == (D.FAILED_PERMANENT, CloseReason.CHANNEL_DOWN)
        assert (sms["channel"], sms["state"]) == ("sms", D.CANCELLED)
        assert sms["closed_reason"] == CloseReason.ACKNOWLEDGED
        (d,) = await fetch(db, "SELECT outcome FROM deliveries")
        assert d["outcome"] == "acknowledged"
