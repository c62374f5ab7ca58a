"""A restart in the middle of deliveries: nothing confirmed is sent twice, nothing pending is lost."""

from __future__ import annotations

import asyncio

from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.domain.states import DeliveryState
from tests.support.engine import FIRE, make_settings, scripted_channels
from tests.support.scripted import HANG, TEMP
from tests.support.waiting import until


async def test_restart_resumes_in_flight_and_pending_and_never_resends_confirmed(tmp_path):
    db = tmp_path / "callout.db"
    clock = ManualClock()
    first = scripted_channels()
    first["radio"].script("R1", HANG)  # ENG-1: in flight when the process dies
    first["radio"].script("R2", TEMP)  # ENG-2 on incident B: waiting for a retry
    refs = {}
    async with Gateway(make_settings(db), clock=clock, channels=first) as gw:
        runner = asyncio.create_task(gw.run())
        await gw.ready.wait()
        a = await gw.incidents.create(FIRE, source="desk", actor="t")
        await gw.dispatch.dispatch(a.reference, ["ENG-1"], actor="t")
        b = await gw.incidents.create(FIRE, source="desk", actor="t")
        await gw.dispatch.dispatch(b.reference, ["ENG-2"], actor="t")
        await until(lambda: len(first["radio"].tries) == 2, "both sends started")
        c = await gw.incidents.create(FIRE, source="desk", actor="t")
        await gw.dispatch.dispatch(c.reference, ["ENG-2"], actor="t")  # ENG-2 is free to take a second
        refs = {"a": a.reference, "b": b.reference, "c": c.reference}

        async def c_sent() -> bool:
            async with gw.store.read() as tx:
                inc = await tx.get_incident(refs["c"])
                return (await tx.deliveries_for_incident(inc.id))[0].state is DeliveryState.SENT

        await until(c_sent, "incident C recorded as sent")
        runner.cancel()  # the engine dies mid-flight
        await asyncio.gather(runner, return_exceptions=True)

    # The states before the new run.
    async with Gateway(make_settings(db), clock=clock) as gw, gw.store.read() as tx:
        states = {}
        for key, ref in refs.items():
            inc = await tx.get_incident(ref)
            (d,) = await tx.deliveries_for_incident(inc.id)
            (att,) = await tx.attempts_for([d.id])
            states[key] = att.state
    assert states == {
        "a": DeliveryState.SENDING,
        "b": DeliveryState.FAILED_TEMPORARY,
        "c": DeliveryState.SENT,
    }

    second = scripted_channels()
    async with Gateway(make_settings(db), clock=clock, channels=second) as gw, gw.running():
        await until(lambda: [s.address for s in second["radio"].sent] == ["R1"], "in-flight message resumed")
        clock.advance(30)  # past the retry time of incident B
        await until(lambda: len(second["radio"].sent) == 2, "pending retry sent after restart")
        await asyncio.sleep(0.1)
        clock.advance(5)
        await asyncio.sleep(0.1)
        texts = [s.text for s in second["radio"].sent]
        assert sum(refs["c"] in t for t in texts) == 0, "confirmed delivery was sent again"
        assert sum(refs["a"] in t for t in texts) == 1
        assert sum(refs["b"] in t for t in texts) == 1
        async with gw.store.read() as tx:
            inc = await tx.get_incident(refs["a"])
            kinds = [e["kind"] for e in await tx.audit_for_incident(inc.id)]
        assert "attempt.resumed" in kinds
