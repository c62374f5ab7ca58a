"""The KISS/APRS radio channel against the KISS TNC simulator over a real pseudo-terminal and over
TCP, and inside a real gateway with a scripted second channel to fall back to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.base import ChannelEvent, DeliveryReport, HealthState, InboundText, OutboundMessage
from adapters.radio_kiss.channel import KissRadioChannel, build
from gateway.app import Gateway
from gateway.clock import SystemClock
from gateway.domain.states import DeliveryState
from gateway.errors import ChannelError
from gateway.policies.fitting import fit_message
from simulators.kiss_tnc import KissTnc, Station
from tests.support.engine import FIRE, make_settings
from tests.support.scripted import ScriptedChannel
from tests.support.waiting import until

ME = "N0GW-10"
UNIT = "N0CALL-7"
FAST = {
    "callsign": ME,
    "retry_intervals": [0.5, 0.5, 0.5],
    "first_msgno": 17,
    "silence_timeout": None,
    "reconnect_min": 0.05,
    "reconnect_max": 0.2,
}


def msg(address: str = UNIT, *parts: str, message_id: str = "1") -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        address=address,
        parts=parts or ("INC-2026-000042 P2 kitchen fire 1 High St",),
        incident_ref="INC-2026-000042",
        priority="P2",
        needs_ack=True,
    )


async def next_event(ch: KissRadioChannel, timeout: float = 3.0) -> ChannelEvent:
    events = ch.events()
    try:
        return await asyncio.wait_for(anext(events), timeout)
    finally:
        await events.aclose()


async def no_event(ch: KissRadioChannel, wait: float = 0.4) -> None:
    with pytest.raises(TimeoutError):
        await next_event(ch, wait)


def options_for(tnc: KissTnc, transport: str, **extra: Any) -> dict[str, Any]:
    where = {"device": tnc.device} if transport == "pty" else {"host": "127.0.0.1", "tcp_port": tnc.tcp_port}
    return {**FAST, **where, **extra}


@contextlib.asynccontextmanager
async def rig(
    transport: str, *stations: Station, digipeater: str | None = None, **extra: Any
) -> AsyncIterator[tuple[KissTnc, KissRadioChannel]]:
    tnc = KissTnc(
        list(stations) or [Station(UNIT)],
        pty=transport == "pty",
        tcp_port=0 if transport == "tcp" else None,
        digipeater=digipeater,
    )
    async with tnc:
        ch = build("aprs", options_for(tnc, transport, **extra))
        assert isinstance(ch, KissRadioChannel)
        async with ch:
            yield tnc, ch


BOTH = pytest.mark.parametrize("transport", ["pty", "tcp"])


@BOTH
async def test_send_and_ack_gives_a_delivered_report(transport):
    async with rig(transport, txdelay=30) as (tnc, ch):
        assert ch.health.state is HealthState.UP and ch.capabilities.max_length == 67
        receipt = await ch.send(msg("n0call-7"))
        assert receipt.channel_ref == "N0CALL-7:17" and receipt.evidence["aprs_msgnos"] == ["17"]
        report = await next_event(ch)
        assert report == DeliveryReport(
            "N0CALL-7:17",
            delivered=True,
            evidence={"aprs_to": UNIT, "aprs_msgnos": ["17"], "transmissions": 1},
        )
        (heard,) = tnc.stations[UNIT].received
        assert (heard.source, heard.text, heard.msgno) == (
            ME,
            "INC-2026-000042 P2 kitchen fire 1 High St",
            "17",
        )
        assert tnc.on_air == [f"{ME}>APZCLO,WIDE1-1::N0CALL-7 :INC-2026-000042 P2 kitchen fire 1 High St{{17"]
        assert tnc.params == {1: 30}  # TXDELAY sent on open (KISS §3)


@BOTH
async def test_a_lost_ack_makes_the_channel_retransmit(transport):
    async with rig(transport) as (tnc, ch):
        tnc.faults.lose_acks = 1
        await ch.send(msg())
        report = await next_event(ch)
        assert isinstance(report, DeliveryReport) and report.delivered
        assert report.evidence["transmissions"] == 2
        station = tnc.stations[UNIT]
        assert len(station.received) == 2 and len(station.messages()) == 1


@BOTH
async def test_a_reject_is_an_undelivered_report(transport):
    async with rig(transport, Station(UNIT, reject=True)) as (_tnc, ch):
        await ch.send(msg())
        report = await next_event(ch)
        assert isinstance(report, DeliveryReport)
        assert (report.delivered, report.reason) == (False, "rejected by N0CALL-7 (rej17)")


async def test_no_ack_after_the_whole_schedule_is_an_undelivered_report():
    async with rig("pty", Station(UNIT, acks=False)) as (tnc, ch):
        loop = asyncio.get_running_loop()
        started = loop.time()
        await ch.send(msg())
        report = await next_event(ch, timeout=5)
        assert isinstance(report, DeliveryReport) and report.delivered is False
        assert report.reason.startswith("no APRS ack from N0CALL-7 after 3 transmissions")
        assert report.evidence["unacked"] == ["17"]
        assert 1.45 <= loop.time() - started < 5
        assert len(tnc.on_air) == 3 and len(tnc.stations[UNIT].messages()) == 1


@BOTH
async def test_a_long_message_goes_as_numbered_parts_each_acked(transport):
    async with rig(transport) as (tnc, ch):
        text = (
            "INC-2026-000042 P1 structure fire, persons reported, 14 Long Acre Road, junction "
            "with Mill Lane; approach from the north, hydrant at the corner"
        )
        fitted = fit_message(text, max_length=ch.capabilities.max_length, max_parts=ch.capabilities.max_parts)
        assert fitted.split and len(fitted.parts) == 3
        receipt = await ch.send(msg(UNIT, *fitted.parts))
        assert receipt.evidence["aprs_msgnos"] == ["17", "18", "19"]
        report = await next_event(ch)
        assert isinstance(report, DeliveryReport) and report.delivered
        assert report.evidence["aprs_msgnos"] == ["17", "18", "19"]
        heard = tnc.stations[UNIT].received
        assert [(h.text, h.msgno) for h in heard] == list(zip(fitted.parts, ["17", "18", "19"], strict=True))


@BOTH
async def test_an_incoming_message_is_acked_back_and_emitted_once(transport):
    async with rig(transport) as (tnc, ch):
        no = tnc.say(UNIT, "EN ROUTE", to=ME, copies=3)  # the station retransmits it
        event = await next_event(ch)
        assert event == InboundText(UNIT, "EN ROUTE", evidence={"aprs_from": UNIT, "aprs_msgno": no})
        await no_event(ch)
        assert tnc.stations[UNIT].acked == [no, no, no]  # every copy is acked (APRS ch. 14)


async def test_a_station_whose_ack_was_lost_retransmits_and_is_still_emitted_once():
    async with rig("pty", Station(UNIT, retry_interval=0.2, retries=3)) as (tnc, ch):
        tnc.faults.lose_uplink = 1  # our first ack never reaches the station
        no = tnc.say(UNIT, "ACK 42", to=ME)
        assert isinstance(await next_event(ch), InboundText)
        await until(lambda: tnc.stations[UNIT].acked == [no], "the station hears an ack")
        await no_event(ch)


@BOTH
async def test_corrupted_frames_are_counted_and_the_link_recovers(transport):
    async with rig(transport, retry_intervals=[0.3] * 6) as (tnc, ch):
        tnc.send_raw(b"\x07noise before any frame")
        for n in range(2):  # bad escape, truncated address; then bad callsign, bad addressee
            tnc.faults.corrupt = 2
            await ch.send(msg(message_id=str(n)))
            report = await next_event(ch)
            assert isinstance(report, DeliveryReport) and report.delivered
            assert report.evidence["transmissions"] >= 3  # two acks were garbled
        assert ch.stats.garbled == 4
        assert ch.stats.discarded_bytes == len(b"\x07noise before any frame")
        assert ch.health.state is HealthState.UP and ch.stats.opens == 1


async def test_a_silent_tnc_is_down_then_up_when_heard_again():
    async with rig("pty", digipeater="DIGI1", silence_timeout=0.5) as (tnc, ch):
        await ch.send(msg())
        assert (await next_event(ch)) == DeliveryReport(
            "N0CALL-7:17",
            delivered=True,
            evidence={"aprs_to": UNIT, "aprs_msgnos": ["17"], "transmissions": 1},
        )
        assert ch.stats.echoes == 1  # the digipeater repeated our message
        tnc.faults.silent = True
        await ch.send(msg(message_id="2"))
        await until(lambda: ch.health.state is HealthState.DOWN, "silence noticed", timeout=3)
        assert "silent: nothing heard for" in ch.health.reason
        await until(lambda: ch.stats.opens >= 2, "the link is reopened")
        tnc.faults.silent = False  # the next probe is repeated by the digipeater
        await until(lambda: ch.health.state is HealthState.UP, "heard again", timeout=3)
        assert any(line.endswith(":>callout dispatch gateway") for line in tnc.on_air)


async def test_tcp_link_lost_goes_down_and_comes_back():
    async with rig("tcp") as (tnc, ch):
        tnc.disconnect_clients()
        await until(lambda: ch.health.state is HealthState.DOWN, "link loss noticed")
        assert ch.health.reason.startswith("link to tcp://127.0.0.1:")
        await until(lambda: ch.health.state is HealthState.UP, "reconnected")
        assert ch.stats.opens == 2
        await ch.send(msg())
        assert isinstance(await next_event(ch), DeliveryReport)


async def test_pty_gone_is_a_temporary_failure_and_a_new_tnc_on_the_same_link_is_found(tmp_path):
    link = tmp_path / "kisstnc"
    async with KissTnc([Station(UNIT)], pty_link=link) as first:
        ch = build("aprs", {**FAST, "device": str(link)})
        async with ch:
            assert ch.health.state is HealthState.UP
            await first.__aexit__(None, None, None)  # the TNC is unplugged
            await until(lambda: ch.health.state is HealthState.DOWN, "port loss noticed")
            with pytest.raises(ChannelError) as err:
                await ch.send(msg())
            assert err.value.temporary is True and err.value.endpoint == UNIT
            async with KissTnc([Station(UNIT)], pty_link=link) as second:
                await until(lambda: ch.health.state is HealthState.UP, "reopened on the new pty")
                await ch.send(msg())
                assert isinstance(await next_event(ch), DeliveryReport)
                assert len(second.stations[UNIT].received) == 1


async def test_a_missing_port_is_down_and_sends_fail_temporarily(tmp_path):
    async with build("aprs", {**FAST, "device": str(tmp_path / "nothing")}) as ch:
        assert ch.health.state is HealthState.DOWN and "cannot open" in ch.health.reason
        with pytest.raises(ChannelError) as err:
            await ch.send(msg())
        assert err.value.temporary is True


async def test_an_address_aprs_cannot_carry_is_a_permanent_failure():
    async with rig("tcp") as (_tnc, ch):
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("+447700900001"))
        assert err.value.temporary is False and "addressee" in err.value.reason


@pytest.mark.parametrize(
    "bad",
    [
        {"callsign": ME},  # no transport
        {"callsign": ME, "device": "/dev/x", "host": "h"},  # two transports
        {"callsign": "TOOLONG1", "device": "/dev/x"},
        {"callsign": ME, "device": "/dev/x", "max_length": 160},
        {"callsign": ME, "device": "/dev/x", "path": ["WIDE1-1*"]},
        {"callsign": ME, "device": "/dev/x", "retry_intervals": []},
        {"callsign": ME, "device": "/dev/x", "baud": 9600},
    ],
)
def test_bad_options_are_refused(bad):
    with pytest.raises(ValidationError):
        build("aprs", bad)


def test_the_configured_max_length_can_only_shrink():
    assert build("aprs", {"callsign": ME, "device": "/dev/x"}, 45).capabilities.max_length == 45
    with pytest.raises(ValidationError):
        build("aprs", {"callsign": ME, "device": "/dev/x"}, 100)


# ---- inside the gateway --------------------------------------------------------------------------


async def test_through_the_gateway_ack_then_fallback_when_a_station_never_acks(tmp_path: Path):
    # The station acks after 0.3 s (a radio keying up): see the report on reports that race the
    # engine's record of the send.
    stations = [Station(UNIT, reply="ACK", ack_delay=0.3, reply_delay=0.6), Station("N0CALL-9", acks=False)]
    settings = make_settings(
        tmp_path / "callout.db",
        # Real time; the engine looks at its outbox at least every 0.2 s (see the report: a
        # delivery report's fallback can otherwise wait for the next wake-up).
        delivery={"retry_base": 10, "retry_cap": 100, "retry_jitter": 0.0, "down_recheck": 0.2},
        channels=[
            {"name": "aprs", "kind": "kiss_radio", "options": {}},
            {"name": "sms", "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}},
        ],
        resources=[
            {
                "id": "ENG-1",
                "capabilities": ["fire"],
                "contact_plan": [
                    {"channel": "aprs", "address": UNIT},
                    {"channel": "sms", "address": "+447700900001"},
                ],
            },
            {
                "id": "ENG-2",
                "capabilities": ["fire"],
                "contact_plan": [
                    {"channel": "aprs", "address": "N0CALL-9"},
                    {"channel": "sms", "address": "+447700900002"},
                ],
            },
        ],
    )
    async with KissTnc(stations) as tnc:
        radio = build("aprs", {**FAST, "device": tnc.device, "retry_intervals": [0.2, 0.2, 0.2]})
        sms = ScriptedChannel("sms")
        gw = Gateway(settings, clock=SystemClock(), channels={"aprs": radio, "sms": sms})
        async with gw, gw.running():

            async def attempts(ref: str) -> list[Any]:
                async with gw.store.read() as tx:
                    inc = await tx.get_incident(ref)
                    ds = await tx.deliveries_for_incident(inc.id)
                    return await tx.attempts_for([d.id for d in ds])

            # 1. The station's software acks (delivered), then the crew replies "ACK".
            one = await gw.incidents.create(FIRE, source="desk", actor="test")
            await gw.dispatch.dispatch(one.reference, ["ENG-1"], actor="test")

            async def acknowledged() -> bool:
                a = await attempts(one.reference)
                return bool(a) and a[0].state is DeliveryState.ACKNOWLEDGED

            await until(acknowledged, "ENG-1 acknowledged over APRS")
            (radio_attempt,) = await attempts(one.reference)
            assert radio_attempt.channel == "aprs" and radio_attempt.delivered_at is not None
            assert radio_attempt.channel_ref == "N0CALL-7:17"
            heard = tnc.stations[UNIT].messages()
            assert heard and one.reference in "".join(h.text for h in heard)
            assert sms.sent == []

            # 2. A station that never acks: after the APRS retries the engine falls back to SMS.
            two = await gw.incidents.create(FIRE, source="desk", actor="test")
            await gw.dispatch.dispatch(two.reference, ["ENG-2"], actor="test")

            async def fell_back() -> bool:
                a = await attempts(two.reference)
                return len(a) == 2 and a[1].state is DeliveryState.SENT

            await until(fell_back, "fallback to the SMS channel", timeout=5)
            assert [s.address for s in sms.sent] == ["+447700900002"]
            first, second = await attempts(two.reference)
            assert (first.channel, first.state) == ("aprs", DeliveryState.FAILED_PERMANENT)
            assert first.closed_reason == "failed" and first.evidence["unacked"] == ["18"]
            async with gw.store.read() as tx:
                audit = await tx.audit_for_incident((await tx.get_incident(two.reference)).id)
            (failed,) = [e["data"] for e in audit if e["kind"] == "attempt.failed_permanent"]
            assert failed["reason"].startswith("no APRS ack from N0CALL-9 after 3 transmissions")
            assert (second.channel, second.state) == ("sms", DeliveryState.SENT)
            assert len(tnc.stations["N0CALL-9"].received) == 3
