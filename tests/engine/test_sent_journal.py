"""The sent journal (gateway/engine/journal.py): a send the channel accepted but the store had not
recorded when the process died is recorded from the journal at restart, not sent again; a line
that does not match its attempt, or was cut short, is not trusted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.base import SendReceipt
from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.domain.states import DeliveryState
from gateway.engine.journal import open_journal
from gateway.engine.sending import Outcome
from tests.support.engine import FIRE, make_settings, scripted_channels
from tests.support.scripted import HANG
from tests.support.waiting import until


async def test_an_accepted_send_in_the_journal_is_recorded_at_restart_and_not_sent_again(tmp_path: Path):
    settings = make_settings(tmp_path / "callout.db")
    clock = ManualClock()
    first = scripted_channels()
    first["radio"].script("R1", HANG)  # stands for "accepted, then the process was killed"
    first["radio"].script("R2", HANG)
    async with Gateway(settings, clock=clock, channels=first) as gw:
        runner = asyncio.create_task(gw.run())
        await gw.ready.wait()
        refs = []
        for unit in ("ENG-1", "ENG-2"):
            inc = await gw.incidents.create(FIRE, source="desk", actor="t")
            await gw.dispatch.dispatch(inc.reference, [unit], actor="t")
            refs.append(inc.reference)
        await until(lambda: len(first["radio"].tries) == 2, "both sends under way")
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        async with gw.store.read() as tx:
            attempts = []
            for ref in refs:
                (d,) = await tx.deliveries_for_incident((await tx.get_incident(ref)).id)
                (a,) = await tx.attempts_for([d.id])
                attempts.append(a)
    assert [a.state for a in attempts] == [DeliveryState.SENDING] * 2
    journal = open_journal(settings)
    assert journal is not None and journal.path.parent == tmp_path
    one, two = attempts
    journal.accepted(Outcome(one.id, "radio", receipt=SendReceipt("net-77", evidence={"hop": 1})), one)
    stray = Outcome(two.id, "radio", receipt=SendReceipt("net-78"))
    two.delivery_id += 1000  # a line from some other store: same attempt id, another delivery
    journal.accepted(stray, two)
    journal.close()
    with journal.path.open("ab") as f:
        f.write(b'{"attempt": 3, "deliv')  # the crash cut the last line short

    second = scripted_channels()
    async with Gateway(settings, clock=clock, channels=second) as gw, gw.running():
        await until(lambda: len(second["radio"].sent) == 1, "the unmatched one sent again")
        assert [s.address for s in second["radio"].sent] == ["R2"]

        async def recorded() -> bool:
            async with gw.store.read() as tx:
                return (await tx.attempts_by_ids([one.id]))[0].state is DeliveryState.SENT

        await until(recorded, "the journalled send recorded as sent")
        async with gw.store.read() as tx:
            (a,) = await tx.attempts_by_ids([one.id])
        assert a.channel_ref == "net-77"
        assert a.evidence["recovered_from"] == "sent journal" and a.evidence["hop"] == 1
        await asyncio.sleep(0.1)
        assert [s.address for s in second["radio"].sent] == ["R2"]  # never R1 again


async def test_channel_in_flight_bounds_the_sends_under_way_on_one_channel(tmp_path: Path):
    channels = scripted_channels()
    channels["radio"].script("R1", HANG)
    channels["radio"].script("R2", HANG)
    settings = make_settings(tmp_path / "callout.db", delivery={"channel_in_flight": 1})
    async with Gateway(settings, clock=ManualClock(), channels=channels) as gw, gw.running():
        for unit in ("ENG-1", "ENG-2"):
            inc = await gw.incidents.create(FIRE, source="desk", actor="t")
            await gw.dispatch.dispatch(inc.reference, [unit], actor="t")
        await until(lambda: len(channels["radio"].tries) == 1, "one send under way")
        await asyncio.sleep(0.2)
        assert len(channels["radio"].tries) == 1  # the second waits for the first to be answered
