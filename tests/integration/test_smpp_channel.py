"""The smpp channel against the SMSC simulator over real TCP sockets, and inside the gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from adapters.base import DeliveryReport, Health, HealthState, InboundText, OutboundMessage
from adapters.smpp.channel import SmppChannel, build
from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.domain.states import DeliveryState
from gateway.errors import ChannelError
from simulators.smsc import RINVDSTADR, RTHROTTLED, Smsc
from tests.support.engine import FIRE, Rig, make_settings
from tests.support.health import health_log
from tests.support.scripted import ScriptedChannel
from tests.support.waiting import until

NUMBER = "+447700900001"


def msg(
    text: str = "INC-2026-000001 P2 kitchen fire", address: str = NUMBER, mid: str = "1"
) -> OutboundMessage:
    return OutboundMessage(
        message_id=mid,
        address=address,
        parts=(text,),
        incident_ref="INC-2026-000001",
        priority="P2",
        needs_ack=True,
    )


def channel(sim: Smsc, **options: Any) -> SmppChannel:
    base: dict[str, Any] = {
        "port": sim.port,
        "system_id": "callout",
        "password": "secret",
        "source_addr": "CALLOUT",
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
        "throttle_backoff": 0.05,
        "send_timeout": 5,
        "start_wait": 2,
    }
    ch = build("sms", base | options)
    assert isinstance(ch, SmppChannel)
    return ch


async def events(ch: SmppChannel, *, count: int | None = None, within: float = 2.0) -> list[Any]:
    """Inbound events: `count` of them (failing if they do not come), or all within `within` s."""
    out: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while count is None or len(out) < count:
        left = deadline - loop.time()
        if left <= 0:
            if count is not None:
                raise AssertionError(f"expected {count} events, got {out}")
            break
        try:
            out.append(await asyncio.wait_for(ch._inbound.get(), left))
        except TimeoutError:
            continue
    return out


async def test_bind_send_receipt_and_reply():
    async with Smsc(receipt_delay=0.02, auto_reply="ACK") as sim, channel(sim) as ch:
        assert ch.health.state is HealthState.UP and sim.binds == 1
        receipt = await ch.send(msg())
        (sub,) = sim.submits
        assert receipt.channel_ref == sub.message_id and receipt.evidence["smpp_message_id"] == sub.message_id
        assert (sub.source, sub.destination, sub.registered_delivery, sub.data_coding, sub.esm_class) == (
            "CALLOUT",
            "447700900001",
            1,
            0,
            0,
        )
        assert sim.texts == [("447700900001", "INC-2026-000001 P2 kitchen fire")]
        report, reply = await events(ch, count=2)
        assert report == DeliveryReport(
            sub.message_id, delivered=True, evidence={"smpp_message_id": sub.message_id, "stat": "DELIVRD"}
        )
        assert isinstance(reply, InboundText) and (reply.address, reply.text) == (NUMBER, "ACK")
        await until(lambda: sim.deliver_acked == 2, "both deliver_sm answered")


async def test_long_messages_go_as_udh_parts_and_give_one_report_despite_duplicates_and_disorder():
    gsm = " ".join(f"word{i}" for i in range(60))  # 409 GSM characters: 3 parts
    ucs2 = "Пожар на кухне, выезжайте! " * 6  # 162 UCS2 units: 3 parts
    async with (
        Smsc(receipt_delay=0.02, receipt_jitter=0.1, duplicates=2, seed=1) as sim,
        channel(sim, max_length=918) as ch,
    ):
        r1 = await ch.send(msg(gsm))
        r2 = await ch.send(msg(ucs2, mid="2"))
        assert r1.evidence["parts"] == 3 and r2.evidence["parts"] == 3
        assert len(sim.submits) == 6
        assert all(s.esm_class == 0x40 and s.concat is not None for s in sim.submits)
        assert [s.concat[1:] for s in sim.submits if s.concat] == [(3, 1), (3, 2), (3, 3)] * 2
        assert [s.data_coding for s in sim.submits] == [0, 0, 0, 8, 8, 8]
        assert sim.texts == [("447700900001", gsm), ("447700900001", ucs2)]
        got = await events(ch, within=0.6)  # 18 receipts arrive (6 parts x 3 copies)
        assert sorted((e.channel_ref, e.delivered, e.evidence.get("parts")) for e in got) == sorted(
            [(r1.channel_ref, True, 3), (r2.channel_ref, True, 3)]
        )
        assert sim.deliver_acked == 18


async def test_failure_receipt_and_refusals():
    behaviours = {"447700900002": "undeliverable", "447700900003": "reject", "447700900004": "syserr"}
    async with Smsc(receipt_delay=0.02, behaviours=behaviours) as sim, channel(sim) as ch:
        sent = await ch.send(msg(address="+447700900002"))
        (report,) = await events(ch, count=1)
        assert (report.channel_ref, report.delivered) == (sent.channel_ref, False)
        assert report.reason.startswith("UNDELIV")
        with pytest.raises(ChannelError) as perm:
            await ch.send(msg(address="+447700900003"))
        assert perm.value.temporary is False and perm.value.evidence["command_status"] == RINVDSTADR
        assert "ESME_RINVDSTADR" in perm.value.reason and perm.value.endpoint == "+447700900003"
        with pytest.raises(ChannelError) as temp:
            await ch.send(msg(address="+447700900004"))
        assert temp.value.temporary is True
        assert ch.health.state is HealthState.UP


async def test_window_of_outstanding_submits_is_respected():
    async with Smsc(window=4, submit_delay=0.05) as sim, channel(sim, window=4) as ch:
        receipts = await asyncio.gather(*(ch.send(msg(f"m{i}", mid=str(i))) for i in range(20)))
        assert len({r.channel_ref for r in receipts}) == 20
        assert sim.window_violations == 0
        assert sim.max_outstanding == 4  # the window was used, never exceeded
    # The same SMSC against a channel configured wider than agreed: the SMSC has to refuse.
    async with Smsc(window=4, submit_delay=0.05) as sim, channel(sim, window=8) as ch:
        await asyncio.gather(*(ch.send(msg(f"m{i}", mid=str(i))) for i in range(12)))
        assert sim.window_violations > 0


async def test_throttling_backs_off_and_keeps_the_order():
    async with Smsc(rate=20, burst=3) as sim, channel(sim, window=1, throttle_backoff=0.1) as ch:
        sends = [asyncio.create_task(ch.send(msg(f"m{i:02d}", mid=str(i)))) for i in range(15)]
        await asyncio.gather(*sends)
        assert sim.throttled >= 1
        accepted = [s.text for s in sim.submits if s.status == 0]
        assert accepted == [f"m{i:02d}" for i in range(15)]  # resubmitted in order
        for before, after in zip(sim.submits, sim.submits[1:], strict=False):
            if before.status == RTHROTTLED:
                assert after.at - before.at >= 0.09  # nothing sent during the pause


async def test_queue_full_is_retried_then_fails_temporarily():
    async with (
        Smsc(behaviours={"447700900005": "queue_full"}) as sim,
        channel(sim, send_timeout=0.6, throttle_backoff=0.05, throttle_backoff_max=0.2) as ch,
    ):
        with pytest.raises(ChannelError) as err:
            await ch.send(msg(address="+447700900005"))
        assert err.value.temporary is True and "no submit_sm_resp within" in err.value.reason
        tries = len(sim.submits)
        assert 3 <= tries <= 8  # backed off (0.05, 0.1, 0.2, 0.2 …) rather than hammering
        assert (await ch.send(msg())).channel_ref  # the channel still works


async def test_abrupt_close_reconnects_rebinds_and_loses_nothing():
    async with (
        Smsc(submit_delay=0.15, receipt_delay=0.05) as sim,
        channel(sim) as ch,
        health_log(ch) as changes,
    ):
        sends = [asyncio.create_task(ch.send(msg(f"m{i}", mid=str(i)))) for i in range(6)]
        await until(lambda: len(sim.submits) >= 4, "submits outstanding")
        sim.drop_connections()
        receipts = await asyncio.gather(*sends)
        assert sim.binds == 2 and ch.binds == 2
        assert ch.health.state is HealthState.UP
        assert [h.state for h in changes][:2] == [HealthState.DOWN, HealthState.UP]
        assert "reconnecting" in changes[0].reason
        assert {t for _, t in sim.texts} == {f"m{i}" for i in range(6)}  # every message got through
        refs = {r.channel_ref for r in receipts}
        got = await events(ch, within=0.5)
        assert refs <= {e.channel_ref for e in got if e.delivered}  # and every one is confirmed


async def test_enquire_link_keepalive_both_ways_and_a_hung_smsc():
    async with (
        Smsc(enquire_link_interval=0.1) as sim,
        channel(sim, enquire_link_interval=0.1, enquire_link_timeout=0.2) as ch,
    ):
        await until(lambda: sim.enquire_links >= 2 and sim.enquire_link_resps >= 2, "enquire_link both ways")
        sim.freeze()
        await until(lambda: ch.health.state is HealthState.DOWN, "hung SMSC noticed", timeout=3)
        assert "enquire_link_resp" in ch.health.reason
        sim.thaw()
        await until(lambda: ch.health.state is HealthState.UP, "rebound", timeout=3)
        assert ch.binds >= 2
        assert (await ch.send(msg())).channel_ref


async def test_inbound_messages_single_and_concatenated():
    async with Smsc() as sim, channel(sim) as ch:
        sim.inject_mo("447700900009", "EN ROUTE")
        long_text = "On scene in 5 min ✓ " * 8  # UCS2, sent in 3 UDH parts
        sim.inject_mo("447700900009", long_text, parts=3)
        first, second = await events(ch, count=2)
        assert (first.address, first.text) == ("+447700900009", "EN ROUTE")
        assert (second.address, second.text) == ("+447700900009", long_text)


async def test_receipt_ids_printed_in_hex_are_matched():
    async with (
        Smsc(receipt_format="text", id_radix="hex", receipt_delay=0.02) as sim,
        channel(sim, receipt_id="hex") as ch,
    ):
        sent = await ch.send(msg())
        (report,) = await events(ch, count=1)
        assert report.channel_ref == sent.channel_ref and report.delivered


async def test_refused_bind_keeps_the_channel_down_with_the_reason():
    async with Smsc() as sim, channel(sim, password="wrong", start_wait=0.3, send_timeout=0.3) as ch:
        await until(lambda: sim.bind_failures >= 1, "bind attempted")
        assert ch.health.state is HealthState.DOWN
        assert "ESME_RINVPASWD" in ch.health.reason
        with pytest.raises(ChannelError) as err:
            await ch.send(msg())
        assert err.value.temporary is True
    assert ch.health == Health(HealthState.DOWN, "stopped")


# ---- through the real core ------------------------------------------------------------------------
def smpp_first_settings(db: Path) -> Any:
    return make_settings(
        db,
        channels=[
            {"name": n, "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}}
            for n in ("sms", "pager")
        ],
        resources=[
            {
                "id": "ENG-1",
                "capabilities": ["fire"],
                "contact_plan": [
                    {"channel": "sms", "address": NUMBER},
                    {"channel": "pager", "address": "1001"},
                ],
            }
        ],
        stakeholders=[],
    )


async def test_gateway_dispatch_receipt_and_fallback_on_a_permanent_error(tmp_path):
    async with Smsc(receipt_delay=0.3, behaviours={}) as sim:
        sms = channel(sim)
        pager = ScriptedChannel("pager")
        clock = ManualClock()
        async with (
            Gateway(
                smpp_first_settings(tmp_path / "c.db"), clock=clock, channels={"sms": sms, "pager": pager}
            ) as gw,
            gw.running(),
        ):
            rig = Rig(gw, clock, {"pager": pager})
            inc = await gw.incidents.create(FIRE, source="desk", actor="test")
            await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
            await rig.settle()

            async def delivered() -> bool:
                (d,) = await rig.deliveries(inc.reference)
                return d.state is DeliveryState.DELIVERED

            await until(delivered, "SMPP receipt marks the delivery delivered", timeout=5)
            (attempt,) = await rig.attempts(inc.reference)
            assert attempt.channel == "sms" and attempt.channel_ref == sim.submits[0].message_id
            assert pager.sent == []

            # The SMSC now refuses the number for good: the engine moves on to the pager.
            sim.behaviours["447700900001"] = "reject"
            inc2 = await gw.incidents.create(FIRE, source="desk", actor="test")
            await gw.dispatch.dispatch(inc2.reference, ["ENG-1"], actor="test")
            await rig.settle()
            await until(lambda: len(pager.sent) == 1, "fallback to the pager")
            attempts = await rig.attempts(inc2.reference)
            assert [(a.channel, a.state) for a in attempts] == [
                ("sms", DeliveryState.FAILED_PERMANENT),
                ("pager", DeliveryState.SENT),
            ]
            assert "ESME_RINVDSTADR" in attempts[0].evidence["error"]


async def test_submits_unanswered_when_the_smsc_goes_away_are_not_sent():
    """The SMSC drops the bind with submits in the window and does not come back: no
    submit_sm_resp, so no send returns a receipt (SMPP 3.4 §4.4.2: the message id is the
    evidence); each fails temporarily within send_timeout and the engine retries or moves on."""
    sim = Smsc(submit_delay=30.0)
    await sim.__aenter__()
    try:
        async with channel(sim, send_timeout=1.0) as ch:
            sends = [asyncio.create_task(ch.send(msg(f"w{i}", mid=str(i)))) for i in range(3)]
            await until(lambda: len(sim.submits) >= 3, "submits in the window")
            await sim.__aexit__(None, None, None)
            results = await asyncio.gather(*sends, return_exceptions=True)
            assert all(isinstance(r, ChannelError) and r.temporary for r in results), results
            await until(lambda: ch.health.state is not HealthState.UP, "the channel says the SMSC is away")
    finally:
        await sim.__aexit__(None, None, None)
