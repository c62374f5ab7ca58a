"""The sms_modem channel against the GSM modem simulator over real pseudo-terminals (and TCP), and
inside the real gateway core."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.base import DeliveryReport, HealthState, InboundText, OutboundMessage
from adapters.sms_modem.channel import SmsModemChannel, build
from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.domain.states import DeliveryState
from gateway.errors import ChannelError
from simulators.gsm_modem import Faults, GsmModem, ReportPlan
from simulators.gsm_modem import sms as sim_sms
from tests.support.engine import FIRE, make_settings
from tests.support.scripted import ScriptedChannel
from tests.support.waiting import until

TEXT = "Dispatch: unit 12 to station 4"
TO = "+15551234567"
# Short timeouts so faults show within a second or two (every option is configurable).
FAST: dict[str, Any] = {
    "command_timeout": 1.0,
    "send_timeout": 1.5,
    "send_deadline": 6.0,
    "probe_timeout": 0.3,
    "reset_wait": 4.0,
    "poll_interval": 0.5,
    "start_timeout": 5.0,
    "retry_base": 0.2,
    "retry_cap": 1.0,
}


@pytest.fixture(autouse=True)
def _serial_support() -> None:
    try:
        import serial_asyncio_fast  # noqa: F401
    except ImportError:
        pytest.fail(
            "the sms_modem channel opens serial devices with pyserial-asyncio-fast: "
            "pip install pyserial-asyncio-fast (it belongs in pyproject's dependencies)"
        )


def msg(address: str = TO, text: str = TEXT, message_id: str = "1") -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        address=address,
        parts=(text,),
        incident_ref="INC-2026-000001",
        priority="P1",
        needs_ack=True,
    )


def device(sim: GsmModem) -> str:
    return sim.device if sim.use_pty else f"tcp://127.0.0.1:{sim.port}"


def channel(*sims: GsmModem, **options: Any) -> SmsModemChannel:
    modems = [{"name": f"m{i}", "device": device(s)} for i, s in enumerate(sims, start=1)]
    ch = build("sms", {"modems": modems, **FAST, **options})
    assert isinstance(ch, SmsModemChannel)
    return ch


@asynccontextmanager
async def rig(*sims: GsmModem, **options: Any) -> AsyncIterator[SmsModemChannel]:
    async with AsyncExitStack() as stack:
        for sim in sims:
            await stack.enter_async_context(sim)
        yield await stack.enter_async_context(channel(*sims, **options))


async def next_event(ch: SmsModemChannel, kind: type, within: float = 3.0) -> Any:
    async with asyncio.timeout(within):
        while True:
            event = await ch._inbound.get()
            if isinstance(event, kind):
                return event


async def no_event(ch: SmsModemChannel, within: float = 0.4) -> None:
    await asyncio.sleep(within)
    assert ch._inbound.empty(), ch._inbound.get_nowait()


async def health(ch: SmsModemChannel, state: HealthState, within: float = 6.0) -> None:
    await until(lambda: ch.health.state is state, f"health {state} (now {ch.health})", within)


# ---- the basics --------------------------------------------------------------------------------------
async def test_send_status_report_and_reply():
    sim = GsmModem()
    async with rig(sim) as ch:
        assert ch.health.state is HealthState.UP and "1 modem ready" in ch.health.reason
        assert ch.capabilities.max_length == 4 * 153 and ch.capabilities.confirms_delivery
        assert ch.capabilities.two_way
        receipt = await ch.send(msg())
        assert receipt.channel_ref == f"m1:0:{TO}"
        assert receipt.evidence == {"modem": "m1", "tp_mr": [0], "parts": 1, "alphabet": "gsm7"}
        assert [(r.destination, r.text) for r in sim.received] == [(TO, TEXT)]
        assert sim.parts[0].wants_report  # TP-SRR set
        report = await next_event(ch, DeliveryReport)
        assert (report.channel_ref, report.delivered, report.evidence["tp_st"]) == (
            receipt.channel_ref,
            True,
            0,
        )
        sim.deliver(TO, "ACK 1234")
        reply = await next_event(ch, InboundText)
        assert (reply.address, reply.text) == (TO, "ACK 1234")
        await until(lambda: not sim.storage, "the read message deleted from the SIM")
        assert any(c.startswith("AT+CMGR=") for c in sim.commands)


async def test_long_message_is_concatenated_and_confirmed_once_every_part_is():
    text = ("Unit 12 to 1 High St, kitchen fire. " * 12)[:400]  # 3 parts: 153 + 153 + 94
    late = "+15557654321"
    sim = GsmModem(reports_for={late: ReportPlan(delay=0.6)})
    async with rig(sim) as ch:
        receipt = await ch.send(msg(text=text))
        assert receipt.evidence["parts"] == 3 and receipt.evidence["tp_mr"] == [0, 1, 2]
        assert receipt.channel_ref == f"m1:2:{TO}"
        (got,) = await sim.wait_received(1)
        assert (got.destination, got.text, got.mrs) == (TO, text, [0, 1, 2])
        refs = {p.concat[0] for p in sim.parts if p.concat}
        assert len(refs) == 1 and [p.concat[1:] for p in sim.parts if p.concat] == [(3, 1), (3, 2), (3, 3)]
        report = await next_event(ch, DeliveryReport)
        assert report.channel_ref == receipt.channel_ref and report.delivered
        await no_event(ch)  # one report for the message, not one per part
        # UCS-2 when the text needs it: 67 characters per part.
        receipt = await ch.send(msg(address=late, text="Пожар " * 20))
        assert receipt.evidence["alphabet"] == "ucs2" and receipt.evidence["parts"] == 2
        assert sim.received[-1].text == "Пожар " * 20


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (ReportPlan(status=0x46), (False, "0x46")),  # validity period expired: permanent
        (ReportPlan(status=0x62), (False, "0x62")),  # SC gave up
        (ReportPlan(duplicates=2), (True, "0x00")),
        (ReportPlan(missing=True), None),
    ],
    ids=["expired", "sc-gave-up", "duplicated", "missing"],
)
async def test_failed_duplicated_and_missing_reports(plan, expected):
    sim = GsmModem(report=plan)
    async with rig(sim) as ch:
        receipt = await ch.send(msg())
        if expected is None:
            await no_event(ch, 0.5)
            return
        report = await next_event(ch, DeliveryReport)
        assert report.channel_ref == receipt.channel_ref
        assert (report.delivered, report.reason.split(":")[0]) == (expected[0], f"TP-ST {expected[1]}")
        await no_event(ch)  # duplicates are dropped


async def test_delayed_report_still_matches_after_other_sends():
    sim = GsmModem(reports_for={TO: ReportPlan(delay=0.8)})
    async with rig(sim) as ch:
        first = await ch.send(msg())
        for k in range(3):
            await ch.send(msg(address=f"+1555000000{k}"))
        refs = [(await next_event(ch, DeliveryReport)).channel_ref for _ in range(4)]
        assert refs[-1] == first.channel_ref and len(set(refs)) == 4


async def test_tp_mr_wraps_and_reports_still_match():
    sim = GsmModem(first_mr=254, reports_for={TO: ReportPlan(delay=0.3)})
    async with rig(sim) as ch:
        receipts = [await ch.send(msg(text="x" * 200)) for _ in range(2)]  # MRs 254, 255, 0, 1
        assert [r.evidence["tp_mr"] for r in receipts] == [[254, 255], [0, 1]]
        reports = {(await next_event(ch, DeliveryReport)).channel_ref for _ in range(2)}
        assert reports == {f"m1:255:{TO}", f"m1:1:{TO}"}


async def test_long_reply_routed_directly_with_cmt():
    sim = GsmModem()
    reply = "EN ROUTE " + "x" * 200
    async with rig_cnmi(sim, "2,2,0,1,0") as ch:
        sim.deliver("+447700900001", reply)
        got = await next_event(ch, InboundText)
        assert (got.address, got.text, got.evidence["parts"]) == ("+447700900001", reply, 2)
        assert not sim.storage  # +CMT: never stored


@asynccontextmanager
async def rig_cnmi(sim: GsmModem, cnmi: str) -> AsyncIterator[SmsModemChannel]:
    async with sim:
        options = {"modems": [{"name": "m1", "device": sim.device, "cnmi": cnmi}], **FAST}
        ch = build("sms", options)
        assert isinstance(ch, SmsModemChannel)
        async with ch:
            yield ch


async def test_messages_stored_while_away_are_read_at_start():
    sim = GsmModem()
    async with sim:
        sim.deliver("+447700900001", "ACK 1")
        sim.deliver("+447700900002", "DECLINE")
        async with channel(sim) as ch:
            got = {((await next_event(ch, InboundText)).text) for _ in range(2)}
            assert got == {"ACK 1", "DECLINE"}
            await until(lambda: not sim.storage, "stored messages deleted")


async def test_a_reply_comes_back_under_the_address_we_sent_to():
    sim = GsmModem()
    async with rig(sim) as ch:
        await ch.send(msg(address="07700 900001"))
        assert sim.received[0].destination == "07700900001"  # national: type of number unknown
        sim.deliver("+447700900001", "EN ROUTE")  # the network gives the international form
        reply = await next_event(ch, InboundText)
        assert (reply.address, reply.evidence["sender"]) == ("07700 900001", "+447700900001")
        sim.deliver("+15559990000", "who is this")
        assert (await next_event(ch, InboundText)).address == "+15559990000"


async def test_a_send_the_caller_gives_up_on_leaves_the_modem_usable():
    sim = GsmModem(send_latency=0.5)
    async with rig(sim) as ch:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):  # as the engine's send_timeout would
                await ch.send(msg())
        receipt = await ch.send(msg())
        assert receipt.evidence["tp_mr"] == [1] and ch.health.state is HealthState.UP
        assert len(sim.received) == 2  # the abandoned one went out too: duplicates beat silence


# ---- URCs in the middle of a send -----------------------------------------------------------------
async def test_urcs_between_the_prompt_and_cmgs_never_break_a_send():
    quiet = "+15550001111"
    sim = GsmModem(reports_for={quiet: ReportPlan(missing=True)})
    async with rig(sim) as ch:
        earlier = await ch.send(msg(address=quiet))  # TP-MR 0, its report held back
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        cds = sim_sms.status_report_pdu(0, quiet, now, now, 0x00)
        (cmt,) = sim_sms.deliver_pdus("+447700900001", "ON SCENE", now, 1)
        smsc = sim_sms.write_smsc(sim.smsc)
        sim.faults.urc_at_prompt = [
            "RING",
            f"+CDS: {len(cds)}\r\n{(smsc + cds).hex().upper()}",
            f"+CMT: ,{len(cmt)}\r\n{(smsc + cmt).hex().upper()}",
        ]
        sim.faults.urc_before_result = ['+CMTI: "SM",7', "^RSSI:17"]
        receipt = await ch.send(msg())
        assert receipt.evidence["tp_mr"] == [1] and not sim.faults.urc_at_prompt
        events = [await next_event(ch, object) for _ in range(2)]
        report = next(e for e in events if isinstance(e, DeliveryReport))
        reply = next(e for e in events if isinstance(e, InboundText))
        assert report.channel_ref == earlier.channel_ref and report.delivered
        assert (reply.address, reply.text) == ("+447700900001", "ON SCENE")
        assert ch.health.state is HealthState.UP  # the +CMTI for an empty index did no harm
        assert (await ch.send(msg())).evidence["tp_mr"] == [2]


# ---- failures -------------------------------------------------------------------------------------
async def test_cms_errors_are_temporary_or_permanent():
    congested, rejected = "+15550000042", "+15550000021"
    sim = GsmModem(faults=Faults(cms_error_for={congested: 42, rejected: 21}))
    async with rig(sim) as ch:
        with pytest.raises(ChannelError) as temp:
            await ch.send(msg(address=congested))
        assert temp.value.temporary is True and "congestion" in temp.value.reason
        assert temp.value.endpoint == congested and temp.value.evidence["cms_error"] == 42
        with pytest.raises(ChannelError) as perm:
            await ch.send(msg(address=rejected))
        assert perm.value.temporary is False and "+CMS ERROR 21" in perm.value.reason
        with pytest.raises(ChannelError) as bad:
            await ch.send(msg(address="not a number"))
        assert bad.value.temporary is False and "cannot encode" in bad.value.reason
        assert ch.health.state is HealthState.UP
        assert (await ch.send(msg())).channel_ref == f"m1:0:{TO}"


async def test_a_modem_that_goes_silent_is_reset_and_reopened():
    sim = GsmModem(reset_silence=0.4)
    async with rig(sim) as ch:
        sim.silence(1.0)
        with pytest.raises(ChannelError) as err:
            await ch.send(msg())
        assert err.value.temporary is True and "no answer" in err.value.reason
        assert ch.health.state is not HealthState.UP
        await health(ch, HealthState.UP)
        assert sim.resets >= 1 and "ATZ" in sim.commands
        assert sim.commands[sim.commands.index("ATZ") + 1 :][:2] == ["AT", "ATE0"]
        assert (await ch.send(msg())).evidence["tp_mr"] == [0]
        # No answer after Ctrl-Z (the send itself is swallowed): the same recovery.
        sim.faults.swallow_sends = 1
        with pytest.raises(ChannelError) as err:
            await ch.send(msg())
        assert err.value.temporary is True
        await health(ch, HealthState.UP)
        assert sim.resets >= 2
        assert (await ch.send(msg())).evidence["tp_mr"] == [1]


async def test_pool_of_two_shares_the_load_and_benches_a_failed_modem():
    one = GsmModem(send_latency=0.2)
    two = GsmModem(send_latency=0.2, pty=False, tcp_port=0)  # the second modem over TCP
    async with rig(one, two) as ch:
        assert ch.health.state is HealthState.UP and ch.health.reason.startswith("2 modems ready")
        receipts = await asyncio.gather(*(ch.send(msg(message_id=str(k))) for k in range(4)))
        assert sorted(r.evidence["modem"] for r in receipts) == ["m1", "m1", "m2", "m2"]
        assert len(one.received) == len(two.received) == 2
        one.sim = "NOT INSERTED"  # the SIM falls out of modem 1
        receipt = await ch.send(msg())
        assert receipt.evidence["modem"] == "m2" and "+CMS ERROR 310" in receipt.evidence["tried"]["m1"]
        await until(lambda: "ready; m1: SIM: NOT INSERTED" in ch.health.reason, "m1 out for its SIM")
        assert ch.health.state is HealthState.DEGRADED and "1 of 2 modems ready" in ch.health.reason
        assert (await ch.send(msg())).evidence["modem"] == "m2"
        one.sim = "READY"  # put back: modem 1 is retried and rejoins
        await health(ch, HealthState.UP)
        one.silence(30)  # modem 1 (the least used) hangs: the send fails over to modem 2
        receipt = await ch.send(msg())
        assert receipt.evidence["modem"] == "m2" and "no answer" in receipt.evidence["tried"]["m1"]
        assert ch.health.state is HealthState.DEGRADED and "ready; m1: " in ch.health.reason
        assert (await ch.send(msg())).evidence["modem"] == "m2"


@pytest.mark.parametrize(
    ("sim_options", "options", "state", "reason"),
    [
        ({"sim": "SIM PIN"}, {}, HealthState.DOWN, "SIM PIN"),
        ({"sim": "SIM PIN"}, {"pin": "1234"}, HealthState.UP, "registered"),
        ({"sim": "SIM PIN"}, {"pin": "0000"}, HealthState.DOWN, "PIN rejected"),
        ({"sim": "NOT INSERTED"}, {}, HealthState.DOWN, "NOT INSERTED"),
        ({"registration": 2}, {}, HealthState.DOWN, "not registered, searching"),
        ({"registration": 5}, {}, HealthState.UP, "roaming"),
        ({"registration": 0, "ps_registration": 1}, {}, HealthState.UP, "packet domain"),
    ],
    ids=["pin-needed", "pin-entered", "pin-wrong", "no-sim", "searching", "roaming", "packet-only"],
)
async def test_start_up_checks_are_health(sim_options, options, state, reason):
    sim = GsmModem(**sim_options)
    async with sim:
        modem = {"name": "m1", "device": sim.device, **options}
        async with build("sms", {"modems": [modem], **FAST}) as ch:
            assert ch.health.state is state and reason in ch.health.reason, ch.health
            if options:
                await asyncio.sleep(1.2)  # a few polls: a rejected PIN is never tried again
            assert sum(c.startswith('AT+CPIN="') for c in sim.commands) == (1 if options else 0)
            if state is HealthState.DOWN:
                with pytest.raises(ChannelError) as err:
                    await ch.send(msg())
                assert err.value.temporary is True and "no modem ready" in err.value.reason


async def test_registration_lost_and_found_and_a_modem_that_never_answers():
    sim = GsmModem()
    async with rig(sim) as ch:
        sim.set_registration(3)
        await health(ch, HealthState.DOWN)
        assert "registration denied" in ch.health.reason
        sim.set_registration(1)
        await health(ch, HealthState.UP)
    mute = GsmModem()
    async with mute:
        mute.silence(60)
        async with channel(mute, reset_wait=0.6, start_timeout=3.0) as ch:
            assert ch.health.state is HealthState.DOWN and "no answer to AT" in ch.health.reason


async def test_the_pty_link_and_a_reopened_port(tmp_path):
    link = tmp_path / "ttySIM0"
    sim = GsmModem(pty_link=link)
    async with sim:
        assert link.is_symlink() and str(link.resolve()) == sim.device
        for _ in range(2):  # close and open the port again: the modem keeps going
            async with build("sms", {"modems": [{"name": "m1", "device": str(link)}], **FAST}) as ch:
                await ch.send(msg())
        assert len(sim.received) == 2
    assert not link.exists()


# ---- through the real core -----------------------------------------------------------------------
@asynccontextmanager
async def gateway(tmp_path: Path, sms: SmsModemChannel) -> AsyncIterator[tuple[Gateway, ManualClock, Any]]:
    clock = ManualClock()
    pager = ScriptedChannel("pager")
    radio = ScriptedChannel("radio")
    plan = [{"channel": "sms", "address": TO}, {"channel": "pager", "address": "1001"}]
    settings = make_settings(
        tmp_path / "callout.db",
        resources=[{"id": "ENG-1", "capabilities": ["fire"], "contact_plan": plan}],
        stakeholders=[],
    )
    gw = Gateway(settings, clock=clock, channels={"sms": sms, "pager": pager, "radio": radio})
    async with gw, gw.running():
        yield gw, clock, pager


async def settle(gw: Gateway) -> None:
    gw.engine.poke()
    await until(gw.engine.idle.is_set, "engine idle")


async def deliveries(gw: Gateway, ref: str) -> list[Any]:
    async with gw.store.read() as tx:
        inc = await tx.get_incident(ref)
        return await tx.deliveries_for_incident(inc.id)


async def test_core_falls_back_to_the_next_endpoint_when_every_send_gets_a_cms_error(tmp_path):
    sim = GsmModem(faults=Faults(cms_error=42))  # congestion on every send
    async with sim, gateway(tmp_path, channel(sim)) as (gw, clock, pager):
        inc = await gw.incidents.create(FIRE, source="desk", actor="test")
        await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
        for _ in range(20):
            await settle(gw)
            if pager.sent:
                break
            clock.advance(60)
        assert [s.address for s in pager.sent] == ["1001"]
        assert sim.sends >= 1 and not sim.received
        async with gw.store.read() as tx:
            ds = await deliveries(gw, inc.reference)
            attempts = await tx.attempts_for([d.id for d in ds])
        sms = [a for a in attempts if a.channel == "sms"]
        assert sms and sms[0].state is DeliveryState.FAILED_PERMANENT
        assert "+CMS ERROR 42" in sms[0].evidence["error"]


async def test_core_sends_gets_the_receipt_and_the_sms_ack(tmp_path):
    sim = GsmModem()
    async with sim, gateway(tmp_path, channel(sim)) as (gw, _clock, pager):
        inc = await gw.incidents.create(FIRE, source="desk", actor="test")
        await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
        await settle(gw)
        (got,) = await sim.wait_received(1)
        assert got.destination == TO and inc.reference in got.text

        async def state() -> DeliveryState:
            return (await deliveries(gw, inc.reference))[0].state

        async def is_(target: DeliveryState) -> bool:
            return await state() is target

        await until(lambda: is_(DeliveryState.DELIVERED), "delivered by the status report")
        sim.deliver(TO, "ACK")
        await until(lambda: is_(DeliveryState.ACKNOWLEDGED), "acknowledged by the SMS reply")
        assert pager.sent == []
