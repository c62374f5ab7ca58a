"""The MQTT radio channel against the radio fleet simulator on a private mosquitto (persistence
on), and inside the gateway. mosquitto missing is a failure that says `apt-get install mosquitto`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.base import (
    Channel,
    ChannelEvent,
    DeliveryReport,
    Health,
    HealthState,
    InboundText,
    OutboundMessage,
    RadioAck,
    UnitStatusReport,
)
from adapters.errors import ChannelError
from adapters.radio_mqtt.channel import RadioMqttChannel, build
from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.domain.states import DeliveryState
from simulators.radio_fleet import Faults, PrivateBroker, RadioFleet, Tls
from tests.support.engine import FIRE, Rig, make_settings
from tests.support.health import health_log
from tests.support.scripted import ScriptedChannel
from tests.support.waiting import until

REPO = Path(__file__).resolve().parents[2]


def msg(
    address: str, message_id: str, *, needs_ack: bool = True, text: str = "INC-1 P2 test"
) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        address=address,
        parts=(text,),
        incident_ref="INC-2026-000001",
        priority="P2",
        needs_ack=needs_ack,
    )


def radio(broker: PrivateBroker, **options: Any) -> RadioMqttChannel:
    ch = build(
        "radio",
        {
            "broker": broker.url,
            "client_id": "callout-test",
            "reconnect_min": 0.1,
            "reconnect_max": 0.4,
            **options,
        },
    )
    assert isinstance(ch, RadioMqttChannel)
    return ch


@pytest.fixture
async def broker() -> AsyncIterator[PrivateBroker]:
    async with PrivateBroker() as b:
        yield b


@contextlib.asynccontextmanager
async def collected(ch: Channel) -> AsyncIterator[list[ChannelEvent]]:
    """Every event the channel emits, in order, while the block runs."""
    got: list[ChannelEvent] = []

    async def pump() -> None:
        async for event in ch.events():
            got.append(event)

    task = asyncio.create_task(pump(), name="test.collect")
    try:
        yield got
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def of(kind: type, events: list[ChannelEvent]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def radio_of(event: ChannelEvent) -> str:
    return event.evidence["radio"] if isinstance(event, DeliveryReport) else event.address


async def test_send_gets_a_receipt_and_an_ack(broker):
    async with (
        RadioFleet(broker=broker.url, count=3, ack_delay=0.05, walk_delay=None) as fleet,
        radio(broker) as ch,
        collected(ch) as got,
    ):
        caps = ch.capabilities
        assert (caps.confirms_delivery, caps.two_way, caps.broadcast, caps.max_length) == (
            True,
            True,
            True,
            500,
        )
        assert ch.health.state is HealthState.UP
        receipt = await ch.send(msg("R2", "41"))
        assert receipt.channel_ref == "41" and not receipt.delivered
        assert receipt.evidence == {"topic": "callout/radio/R2/down", "qos": 1}
        await until(lambda: len(got) == 2, "receipt and ack")
        topic = {"topic": "callout/radio/R2/up"}
        assert of(DeliveryReport, got) == [DeliveryReport("41", True, evidence={"radio": "R2", **topic})]
        assert of(RadioAck, got) == [RadioAck("R2", message_id="41", channel_ref="41", evidence=topic)]
        (shown,) = fleet.radio("R2").received
        assert (shown.id, shown.text, shown.incident, shown.priority, shown.needs_ack, shown.group) == (
            "41",
            "INC-1 P2 test",
            "INC-2026-000001",
            "P2",
            True,
            None,
        )
        assert abs(shown.ts - time.time()) < 5
        assert fleet.radio("R1").received == [] and fleet.radio("R3").received == []

        await ch.send(msg("R3", "42", needs_ack=False))  # a notification: receipt only
        await until(lambda: len(got) == 3, "receipt for 42")
        await asyncio.sleep(0.2)
        assert [type(e).__name__ for e in got] == ["DeliveryReport", "RadioAck", "DeliveryReport"]


async def test_status_walk_and_free_text(broker):
    async with (
        RadioFleet(broker=broker.url, count=3, ack_delay=0.0, walk_delay=0.03) as fleet,
        radio(broker) as ch,
        collected(ch) as got,
    ):
        await ch.send(msg("R1", "7"))
        await until(lambda: len(of(UnitStatusReport, got)) == 3, "en route, on scene, clear")
        assert [(s.address, s.status) for s in of(UnitStatusReport, got)] == [
            ("R1", "en_route"),
            ("R1", "on_scene"),
            ("R1", "available"),  # the radio said "clear"
        ]
        fleet.send_text("R3", "ETA 5 MIN")
        fleet.send_status("R3", "out_of_service")
        await until(lambda: of(InboundText, got) and len(of(UnitStatusReport, got)) == 4, "text and status")
        (text,) = of(InboundText, got)
        assert (text.address, text.text) == ("R3", "ETA 5 MIN")
        assert of(UnitStatusReport, got)[-1].status == "out_of_service"


async def test_one_talkgroup_publish_reaches_every_member_and_each_ack_names_the_group(broker):
    groups = {"ALPHA": ["R1", "R2", "R3"], "BRAVO": ["R4"]}
    async with (
        RadioFleet(broker=broker.url, count=5, groups=groups, ack_delay=0.02, walk_delay=None) as fleet,
        radio(broker) as ch,
        collected(ch) as got,
    ):
        receipt = await ch.send(msg("tg:ALPHA", "9"))
        assert receipt.evidence["topic"] == "callout/group/ALPHA/down"
        await until(lambda: len(of(RadioAck, got)) == 3, "three acks")
        await asyncio.sleep(0.1)
        assert ch.stats.published == 1 and fleet.stats.downlinks == 1  # one publish on the wire
        assert sorted((r.radio, r.group) for r in fleet.received) == [
            ("R1", "ALPHA"),
            ("R2", "ALPHA"),
            ("R3", "ALPHA"),
        ]
        assert sorted((a.address, a.message_id, a.evidence["talkgroup"]) for a in of(RadioAck, got)) == [
            ("R1", "9", "tg:ALPHA"),
            ("R2", "9", "tg:ALPHA"),
            ("R3", "9", "tg:ALPHA"),
        ]
        assert sorted(r.evidence["radio"] for r in of(DeliveryReport, got)) == ["R1", "R2", "R3"]
        assert len(got) == 6


async def test_offline_radio_is_a_temporary_failure_and_a_bad_address_a_permanent_one(broker):
    async with (
        RadioFleet(broker=broker.url, count=3, ack_delay=0.0, walk_delay=None) as fleet,
        radio(broker) as ch,
        collected(ch) as got,
    ):
        await until(lambda: ch.presence("R2") is True, "R2 online")
        await fleet.set_online("R2", False)
        await until(lambda: ch.presence("R2") is False, "R2 offline")
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("R2", "5"))
        assert err.value.temporary is True and err.value.endpoint == "R2"
        assert "offline" in err.value.reason and err.value.evidence == {"presence": "offline"}
        assert ch.stats.published == 0 and fleet.radio("R2").received == []
        with pytest.raises(ChannelError) as bad:
            await ch.send(msg("R/2", "6"))
        assert bad.value.temporary is False
        await fleet.set_online("R2", True)
        await until(lambda: ch.presence("R2") is True, "R2 back")
        await ch.send(msg("R2", "5"))
        await until(lambda: of(RadioAck, got), "ack once back online")


async def test_duplicates_are_dropped_and_garbage_is_counted(broker):
    faults = {"R1": Faults(duplicate=1.0), "R2": Faults(garble=1.0)}
    async with (
        RadioFleet(broker=broker.url, count=3, radio_faults=faults, ack_delay=0.0, walk_delay=0.01) as fleet,
        radio(broker) as ch,
        collected(ch) as got,
    ):
        await ch.send(msg("R1", "11"))
        await ch.send(msg("R1", "11"))  # the engine retrying the same attempt: shown once
        await until(lambda: ch.stats.duplicates >= 5, "five duplicate uplinks dropped")
        await until(lambda: fleet.stats.duplicates == 1, "the radio shows message 11 once")
        await ch.send(msg("R2", "12"))
        await until(lambda: ch.stats.garbled >= 5, "five garbled uplinks counted")
        await ch.send(msg("R3", "13"))
        await until(lambda: len(of(RadioAck, got)) == 2, "ack from R3 after the garbage")
        await asyncio.sleep(0.1)
        r1 = [(type(e).__name__, getattr(e, "status", None)) for e in got if radio_of(e) == "R1"]
        assert sorted(r1) == sorted(
            [
                ("DeliveryReport", None),
                ("RadioAck", None),
                ("UnitStatusReport", "en_route"),
                ("UnitStatusReport", "on_scene"),
                ("UnitStatusReport", "available"),
            ]
        )
        assert not [e for e in got if radio_of(e) == "R2"]
        assert ch.health.state is HealthState.UP


async def test_broker_restart_goes_down_and_up_and_loses_nothing(broker):
    ids = [str(100 + i) for i in range(20)]
    async with (
        RadioFleet(broker=broker.url, count=20, ack_delay=0.4, walk_delay=None) as fleet,
        radio(broker) as ch,
        collected(ch) as got,
        health_log(ch) as changes,
    ):
        # Sends race the broker going away: each either got its PUBACK or fails temporarily.
        sends = [ch.send(msg(f"R{i + 1}", mid)) for i, mid in enumerate(ids)]
        results = await asyncio.gather(*sends, broker.stop(), return_exceptions=True)
        failed = [mid for mid, r in zip(ids, results[:-1], strict=True) if isinstance(r, BaseException)]
        assert all(
            isinstance(r, ChannelError) and r.temporary for r in results[:-1] if isinstance(r, Exception)
        )
        await until(lambda: ch.health.state is HealthState.DOWN, "channel down")
        with pytest.raises(ChannelError) as down:
            await ch.send(msg("R1", "999"))
        assert down.value.temporary is True
        await asyncio.sleep(0.6)  # acks fall due while the broker is away: the radios hold them
        await broker.start()
        await until(lambda: ch.health.state is HealthState.UP, "channel up again")
        # mosquitto published the fleet's will when it stopped; the fleet says "online" again
        # once it has reconnected, and until then sends to its radios fail temporarily.
        await until(lambda: ch.presence("R1") is True, "fleet back online", timeout=10)
        for mid in failed:  # what the engine does with a temporary failure
            await ch.send(msg(f"R{ids.index(mid) + 1}", mid))
        await until(lambda: len(of(RadioAck, got)) >= 20, "an ack for every message", timeout=10)
        await asyncio.sleep(0.5)  # room for redeliveries to show up
        acks = sorted(a.message_id for a in of(RadioAck, got))
        assert acks == ids  # every message acked, none twice
        assert sorted(r.channel_ref for r in of(DeliveryReport, got)) == ids
        states = [h.state for h in changes]
        assert [s for i, s in enumerate(states) if i == 0 or states[i - 1] is not s] == [
            HealthState.DOWN,
            HealthState.UP,
        ]

    # Uplinks the broker queues for the channel's session while callout is away survive a broker
    # restart (persistent session + broker persistence) and arrive when callout comes back.
    async with RadioFleet(broker=broker.url, count=5, walk_delay=None) as fleet:
        for i in range(1, 6):
            fleet.send_status(f"R{i}", "en_route")
        await until(lambda: fleet.stats.uplinks >= 5, "statuses published")
        await broker.restart()
        async with radio(broker) as ch, collected(ch) as got:
            await until(lambda: len(got) == 5, "queued statuses delivered")
            assert sorted(e.address for e in got) == [f"R{i}" for i in range(1, 6)]


async def test_tls_and_password(tmp_path):
    tls = make_certificates(tmp_path)
    async with PrivateBroker(users={"callout": "s3cret", "fleet": "f1eet"}, tls=tls) as broker:
        assert broker.url.startswith("mqtts://")
        async with radio(broker, ca_file=str(tls.ca_file), username="callout", password="wrong") as ch:
            assert ch.health.state is HealthState.DOWN
            assert "authori" in ch.health.reason.lower() or "password" in ch.health.reason.lower()
        async with (
            RadioFleet(
                broker=broker.url, count=2, username="fleet", password="f1eet", tls_ca_file=str(tls.ca_file)
            ) as fleet,
            radio(broker, ca_file=str(tls.ca_file), username="callout", password="s3cret") as ch,
            collected(ch) as got,
        ):
            assert ch.health.state is HealthState.UP
            await ch.send(msg("R1", "1"))
            await until(lambda: of(RadioAck, got), "ack over TLS")
            assert fleet.radio("R1").received[0].id == "1"


async def test_shared_subscription_splits_uplinks_between_nodes(broker):
    async with (
        RadioFleet(broker=broker.url, count=20, walk_delay=None) as fleet,
        radio(broker, client_id="node-a", shared_group="callout") as a,
        radio(broker, client_id="node-b", shared_group="callout") as b,
        collected(a) as got_a,
        collected(b) as got_b,
    ):
        for i in range(1, 21):
            fleet.send_status(f"R{i}", "en_route")
        await until(lambda: len(got_a) + len(got_b) == 20, "20 statuses")
        await asyncio.sleep(0.1)
        assert sorted(e.address for e in got_a + got_b) == sorted(f"R{i}" for i in range(1, 21))
        assert got_a and got_b  # both nodes did some of the work
        assert a.presence("R7") is True and b.presence("R7") is True  # presence is not shared


async def test_fleet_process_prints_messages_and_its_death_marks_radios_offline(broker):
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.radio_fleet", "--broker", broker.url, "--count", "3", "--no-walk"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        async with radio(broker) as ch, collected(ch) as got:
            await until(lambda: ch.presence("R3") is True, "fleet process online", timeout=15)
            await ch.send(msg("R3", "77", text="hello R3"))
            await until(lambda: of(DeliveryReport, got), "receipt from the fleet process")
            proc.kill()  # no DISCONNECT: the broker publishes the gateway's last will (MQTT 5 §3.1.2.5)
            await until(lambda: ch.presence("R3") is False, "last will: gateway offline")
            with pytest.raises(ChannelError) as err:
                await ch.send(msg("R3", "78"))
            assert err.value.temporary and "gateway radio-fleet-0 is offline" in err.value.reason
    finally:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    assert "3 radios on" in out and "R3 <- [77] P2 hello R3" in out


async def test_through_the_gateway_radio_ack_then_fallback_when_the_radio_is_offline(broker, tmp_path):
    settings = make_settings(
        tmp_path / "callout.db",
        channels=[
            {"name": "radio", "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}},
            {"name": "sms", "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}},
        ],
        resources=[
            {
                "id": f"ENG-{n}",
                "capabilities": ["fire"],
                "contact_plan": [
                    {"channel": "radio", "address": f"R{n}"},
                    {"channel": "sms", "address": f"+44770090000{n}"},
                ],
            }
            for n in (1, 2)
        ]
        + [
            {
                "id": "ENG-3",
                "capabilities": ["fire"],
                "contact_plan": [
                    {"channel": "radio", "address": "tg:ALPHA"},
                    {"channel": "sms", "address": "+447700900003"},
                ],
            }
        ],
        stakeholders=[],
        delivery={"retry_base": 10, "retry_cap": 100, "retry_jitter": 0.0, "max_retries": 1},
    )
    ch, sms = radio(broker), ScriptedChannel("sms")
    clock = ManualClock()
    async with (
        RadioFleet(
            broker=broker.url, count=2, groups={"ALPHA": ["R1", "R2"]}, ack_delay=0.05, walk_delay=None
        ) as fleet,
        Gateway(settings, clock=clock, channels={"radio": ch, "sms": sms}) as gw,
        gw.running(),
    ):
        rig = Rig(gw, clock, {"radio": ch, "sms": sms})  # type: ignore[dict-item]
        inc = await gw.incidents.create(FIRE, source="desk", actor="test")
        await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")

        def acknowledged(ref: str) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return (await rig.deliveries(ref))[0].state is DeliveryState.ACKNOWLEDGED

            return check

        await until(acknowledged(inc.reference), "the radio's ack acknowledges the delivery")
        (a,) = await rig.attempts(inc.reference)
        assert (a.channel, a.address, a.state) == ("radio", "R1", DeliveryState.ACKNOWLEDGED)
        assert a.evidence["topic"] == "callout/radio/R1/up"
        # (Not asserted: "attempt.delivered". The radio's receipt can reach the core before the
        # engine has recorded the send, and the core then drops it as unmatched.)
        assert inc.reference in fleet.radio("R1").received[0].text and sms.sent == []
        # The field pump confirmed the receipt and the ack once stored: PUBACKed only then.
        assert ch.holding  # the gateway's field pump confirms what it stored
        await until(lambda: ch.stats.acked >= 2, "receipt and ack PUBACKed after the core stored them")

        # A dispatch to a talkgroup: the first member's ack counts, naming the group.
        inc3 = await gw.incidents.create(FIRE, source="desk", actor="test")
        await gw.dispatch.dispatch(inc3.reference, ["ENG-3"], actor="test")
        await until(acknowledged(inc3.reference), "a talkgroup member's ack acknowledges the delivery")
        (d3,) = await rig.deliveries(inc3.reference)
        assert d3.ack_evidence["talkgroup"] == "tg:ALPHA" and d3.ack_evidence["from"] in ("R1", "R2")
        assert {r.radio for r in fleet.received if r.group == "ALPHA"} == {"R1", "R2"}

        await fleet.set_online("R2", False)
        await until(lambda: ch.presence("R2") is False, "R2 offline")
        inc2 = await gw.incidents.create(FIRE, source="desk", actor="test")
        await gw.dispatch.dispatch(inc2.reference, ["ENG-2"], actor="test")
        await rig.settle()
        assert sms.sent == []  # first a retry on the radio...
        await rig.advance(10)
        assert [s.address for s in sms.sent] == ["+447700900002"]  # ...then the next endpoint
        radio_attempt = (await rig.attempts(inc2.reference))[0]
        assert radio_attempt.state is DeliveryState.FAILED_PERMANENT
        assert "offline" in radio_attempt.evidence["error"]
        assert [r.incident for r in fleet.radio("R2").received] == [inc3.reference]  # the group's only


def make_certificates(d: Path) -> Tls:
    """A throwaway CA and a server certificate for 127.0.0.1 (EC keys: fast to make)."""

    def openssl(*args: str) -> None:
        try:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
        except FileNotFoundError:
            pytest.fail("openssl not found: apt-get install openssl")

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test-ca")
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext",
    )  # fmt: skip
    return Tls(ca_file=d / "ca.crt", cert_file=d / "server.crt", key_file=d / "server.key")


async def test_downlinks_for_an_absent_radio_expire(broker):
    """Message Expiry Interval (MQTT 5 §3.3.2.3.3): a dispatch must not reach a radio hours late."""
    import aiomqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 60
    late = aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier="late-radio",
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=props,
    )
    async with late:
        await late.subscribe("callout/radio/R9/down", qos=1)
    async with radio(broker, message_expiry=1) as expiring, radio(broker, client_id="keeper") as keeping:
        await expiring.send(msg("R9", "1"))  # presence unknown: sent, and queued for the session
        await keeping.send(msg("R9", "2"))
    await asyncio.sleep(2.2)  # mosquitto counts expiry in whole seconds
    got: list[str] = []
    async with late:
        async with asyncio.timeout(1):
            async for m in late.messages:
                assert isinstance(m.payload, bytes)
                got.append(m.payload.decode())
                break
    assert len(got) == 1 and '"id":"2"' in got[0]


async def test_a_channel_started_without_a_broker_is_down_and_comes_up_with_it(broker):
    await broker.stop()
    async with radio(broker) as ch:
        assert ch.health.state is HealthState.DOWN
        assert "cannot connect to the broker" in ch.health.reason
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("R1", "1"))
        assert err.value.temporary is True
        await broker.start()
        await until(lambda: ch.health.state is HealthState.UP, "connected once the broker is there")
    assert ch.health == Health(HealthState.DOWN, "stopped")


async def test_fleet_over_two_connections_with_never_ack_and_drop_faults(broker):
    faults = {"R3": Faults(never_ack=True), "R4": Faults(drop=1.0)}
    async with (
        RadioFleet(
            broker=broker.url, count=4, connections=2, radio_faults=faults, ack_delay=0.0, walk_delay=None
        ) as fleet,
        radio(broker) as ch,
        collected(ch) as got,
    ):
        await until(lambda: all(ch.presence(f"R{i}") for i in range(1, 5)), "four radios online")
        gateways = {r: p.gateway for r, p in ch.known.radios.items()}
        assert gateways["R1"] == "radio-fleet-0" and gateways["R2"] == "radio-fleet-1"
        for i in range(1, 5):
            await ch.send(msg(f"R{i}", str(i)))
        await until(lambda: len(of(DeliveryReport, got)) == 3 and len(of(RadioAck, got)) == 2, "answers")
        await asyncio.sleep(0.2)
        assert sorted(a.address for a in of(RadioAck, got)) == ["R1", "R2"]
        assert sorted(r.evidence["radio"] for r in of(DeliveryReport, got)) == ["R1", "R2", "R3"]
        assert fleet.stats.dropped == 1 and fleet.stats.downlinks == 4  # shared: each message once


async def test_after_a_broker_restart_without_persistence_no_radio_is_sent_to_before_it_announces():
    """The measured fault (issue 14): a broker without persistence restarts, callout reconnects
    before the radios do, and the broker would take (PUBACK) downlinks no radio ever gets. Known
    radios are stale after the reconnect: a send waits `presence_wait` for their presence, then
    fails temporarily; nothing is published, so nothing is recorded `sent`."""
    async with PrivateBroker(persistence=False) as bare, radio(bare, presence_wait=0.2) as ch:
        async with RadioFleet(broker=bare.url, count=2, ack_delay=0.0, walk_delay=None):
            await until(lambda: ch.presence("R1") is True, "R1 online")
        await until(lambda: ch.presence("R1") is False, "the fleet's will says offline")
        await bare.restart()  # the retained statuses are gone with it
        await until(lambda: ch.health.state is HealthState.UP and ch.stats.connects == 2, "reconnected")
        assert ch.presence("R1") is None and "R1" in ch.known.stale
        published = ch.stats.published
        with pytest.raises(ChannelError) as held:
            await ch.send(msg("R1", "31"))
        assert held.value.temporary and held.value.evidence == {"presence": "unknown"}
        assert "since the reconnect" in held.value.reason
        assert ch.stats.published == published and ch.stats.held_back == 1
        # A radio never heard of is unknown, not stale: fleets without presence still work.
        await ch.send(msg("R9", "32"))
        # A send waiting for a stale radio goes out as soon as its presence is read again.
        slow = radio(bare, presence_wait=10.0)
        ch.options = slow.options
        async with collected(ch) as got:
            sending = asyncio.ensure_future(ch.send(msg("R2", "33")))
            async with RadioFleet(broker=bare.url, count=2, ack_delay=0.0, walk_delay=None) as fleet:
                receipt = await sending
                assert receipt.channel_ref == "33"
                await until(lambda: of(RadioAck, got), "ack for 33")
                assert [m.id for m in fleet.radio("R2").received] == ["33"]


async def test_a_send_at_the_reconnect_waits_for_the_gateway_presence_too(broker):
    """After a reconnect the broker sends the radios' retained statuses before their gateways'
    (one SUBSCRIBE, the radio filter first, §3.8.3.1). A send made as soon as the channel is up
    wakes on the radio's status; it must not publish before the gateway's `offline` is read (the
    broker would PUBACK a downlink nobody gets: a false `sent`)."""
    async with radio(broker, presence_wait=5.0) as ch:
        async with RadioFleet(broker=broker.url, count=20, walk_delay=None):
            await until(lambda: ch.presence("R20") is True, "fleet online")
        # The fleet left (its gateway's retained status says offline); the radios' still say online.
        await until(lambda: ch.presence("R1") is False, "the fleet's gateway offline")
        await broker.stop()
        await until(lambda: ch.health.state is HealthState.DOWN, "channel down")
        await broker.start()
        published = ch.stats.published
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:  # what an engine retry at the worst moment does: send the moment it is up
            try:
                await ch.send(msg("R1", "51"))
            except ChannelError as exc:
                if not exc.reason.startswith("not connected") or loop.time() > deadline:
                    err = exc
                    break
            else:
                pytest.fail("sent to a radio whose gateway is offline")
            await asyncio.sleep(0)  # one pass of the event loop: the reconnect is not missed
        assert err.temporary and err.evidence == {"presence": "offline"}
        assert "gateway radio-fleet-0 is offline" in err.reason
        assert ch.stats.published == published


async def test_uplinks_are_acknowledged_to_the_broker_only_once_the_core_stored_them(broker):
    """With `hold_until_handled` (what the gateway's field pump asks for) an uplink the core has
    not confirmed with `handled` is not PUBACKed: after a crash or a reconnect the broker sends it
    again from the persistent session (MQTT 5 §4.4). Once handled, it never comes again."""
    async with RadioFleet(broker=broker.url, count=2, walk_delay=None) as fleet:
        async with radio(broker) as ch, collected(ch) as got:
            ch.hold_until_handled()
            fleet.send_status("R1", "en_route")
            await until(lambda: of(UnitStatusReport, got), "status emitted")
            assert ch.stats.acked == 0  # not stored: the broker still holds it for us
        async with radio(broker) as ch, collected(ch) as again:
            ch.hold_until_handled()
            await until(lambda: of(UnitStatusReport, again), "the unconfirmed status came again")
            ch.handled(again)
            assert ch.stats.acked == 1
            fleet.send_text("R2", "ETA 5 MIN")
            await until(lambda: of(InboundText, again), "text")
            ch.handled(of(InboundText, again))
        async with radio(broker) as ch, collected(ch) as third:
            fleet.send_status("R2", "on_scene")  # a fresh uplink: proves the channel is reading
            await until(lambda: of(UnitStatusReport, third), "fresh status")
            assert [(e.address, e.status) for e in of(UnitStatusReport, third)] == [("R2", "on_scene")]
            assert not of(InboundText, third)
