"""Voice as the last rung of a P2 ladder: the radio is offline, the gateway phones the crew.

A private Mosquitto with the simulated radio fleet (R1 offline), the voice channel's pjsua2
worker processes, espeak-ng, and the SIP phone simulator answering, pressing keys, staying
silent or busy; all real, nothing scripted inside the gateway."""

from __future__ import annotations

import asyncio
import json

from adapters.radio_mqtt.channel import build as mqtt
from adapters.voice.channel import VoiceChannel
from adapters.voice.channel import build as voice
from gateway.app import Gateway
from gateway.domain.states import DeliveryOutcome, DeliveryState, Priority, UnitStatus
from gateway.settings import Settings, _default_targets
from simulators.radio_fleet import PrivateBroker, RadioFleet
from simulators.sip_phone import Behaviour, SipPhone
from tests.support.waiting import until

PHONES = {
    "201": Behaviour(answer_after=0.2, press="13", press_after=0.8),  # accept, then en route
    "202": Behaviour(answer_after=0.2, press="2", press_after=0.8),  # decline
    "203": Behaviour(answer_after=0.2, press="1", press_after=0.8, busy_first=1),  # busy, then accept
    "204": Behaviour(answer_after=0.2, fault="silent"),  # an answering machine
    "205": Behaviour(answer_after=0.2, press="1", press_after=0.8),
}


def settings(tmp_path) -> Settings:
    targets = _default_targets()
    targets[Priority.P2] = targets[Priority.P2].model_copy(update={"ack_deadline": 6.0})
    plan = {
        "ENG-1": [("radio", "R1"), ("voice", "201")],
        "ENG-2": [("voice", "202")],
        "ENG-3": [("voice", "203")],
        "ENG-4": [("voice", "204"), ("voice", "205")],
    }
    return Settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
        delivery={"max_retries": 2, "retry_base": 0.2, "retry_cap": 0.5, "retry_jitter": 0.0},
        triage={"targets": targets},
        channels=[
            {"name": "radio", "kind": "mqtt_radio", "options": {"broker": "mqtt://127.0.0.1:1"}},
            {"name": "voice", "kind": "voice", "send_timeout": 10, "options": {}},
        ],
        resources=[
            {
                "id": rid,
                "capabilities": ["fire"],
                "contact_plan": [{"channel": c, "address": a} for c, a in steps],
            }
            for rid, steps in plan.items()
        ],
    )


async def test_a_p2_ladder_reaches_the_crews_by_phone_when_the_radio_is_offline(tmp_path):
    async with (
        PrivateBroker() as broker,
        RadioFleet(broker=broker.url, count=1, walk_delay=None) as fleet,
        SipPhone(phones=PHONES, record_dir=tmp_path / "rec") as phone,
    ):
        radio = mqtt("radio", {"broker": broker.url, "client_id": "voice-test", "reconnect_min": 0.1})
        phone_line = voice(
            "voice",
            {
                "bind_address": "127.0.0.1",
                "uri_template": f"sip:{{address}}@127.0.0.1:{phone.port}",
                "workers": 2,
                "ring_timeout": 3,
                "digit_timeout": 2,
                "repeat": 1,
                "speed": 260,
                "intro": "",
                "prompt": "Press 1 to accept.",
                "cache_dir": str(tmp_path / "speech"),
            },
        )
        assert isinstance(phone_line, VoiceChannel)
        async with (
            Gateway(settings(tmp_path), channels={"radio": radio, "voice": phone_line}) as gw,
            gw.running(),
        ):
            await asyncio.wait_for(phone_line.wait_ready(), 20)
            await until(lambda: radio.presence("R1") is True, "R1 online")  # type: ignore[attr-defined]
            await fleet.set_online("R1", False)
            await until(lambda: radio.presence("R1") is False, "R1 offline")  # type: ignore[attr-defined]
            inc = await gw.incidents.create(
                {"nature": "fire", "location": "Depot", "category": "fire", "impact": 1, "urgency": 2},
                source="desk",
                actor="t",
            )
            assert inc.priority is not None and inc.priority.value == "P2"
            await gw.dispatch.dispatch(inc.reference, ["ENG-1", "ENG-2", "ENG-3", "ENG-4"], actor="t")

            async def states() -> dict[str, DeliveryState | str]:
                async with gw.store.read() as tx:
                    return {
                        d.recipient_id: d.outcome.value if d.outcome is DeliveryOutcome.DECLINED else d.state
                        for d in await tx.deliveries_for_incident(inc.id)
                    }

            async def settled() -> bool:
                s = await states()
                return (
                    s["ENG-1"] is DeliveryState.ACKNOWLEDGED
                    and s["ENG-3"] is DeliveryState.ACKNOWLEDGED
                    and s["ENG-4"] is DeliveryState.ACKNOWLEDGED
                    and s["ENG-2"] == "declined"
                )

            await until(settled, "ENG-1, 3 and 4 acknowledged, ENG-2 declined", timeout=45)
            async with gw.store.read() as tx:
                deliveries = {d.recipient_id: d for d in await tx.deliveries_for_incident(inc.id)}
                attempts = {rid: await tx.attempts_for([d.id]) for rid, d in deliveries.items()}
                eng1 = await tx.get_resource("ENG-1")
                eng2 = await tx.get_resource("ENG-2")
                audit = await tx.audit_for_incident(inc.id)

    assert [(a.channel, a.address) for a in attempts["ENG-1"]] == [("radio", "R1"), ("voice", "201")]
    assert attempts["ENG-1"][1].state is DeliveryState.ACKNOWLEDGED
    assert attempts["ENG-1"][1].evidence["sip_status"] == 200
    assert eng1.status is UnitStatus.EN_ROUTE  # the 3 after the 1
    assert '"dtmf": "1"' in json.dumps(audit, default=str), "no audit event carries the evidence dtmf 1"
    assert deliveries["ENG-2"].outcome is DeliveryOutcome.DECLINED and eng2.status is UnitStatus.AVAILABLE
    busy = [c for c in phone.calls if c.user == "203"]
    assert [c.status for c in busy] == [486, 200]  # busy retried on the same channel
    # The answering machine heard the message, pressed nothing: the ack deadline moved to 205.
    machine = next(c for c in phone.calls if c.user == "204")
    assert machine.status == 200 and machine.digits_sent == ""
    assert [a.address for a in attempts["ENG-4"]] == ["204", "205"]
    assert attempts["ENG-4"][0].state is DeliveryState.SENT
