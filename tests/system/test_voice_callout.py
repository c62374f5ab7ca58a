"""Voice as the last rung of a P2 ladder: the radio is offline, the gateway phones the crew.

A private Mosquitto with the simulated radio fleet (R1 offline), the voice channel's pjsua2
worker processes, espeak-ng, and the SIP phone simulator answering, pressing keys, staying
silent or busy; all real, nothing scripted inside the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal

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
    "207": Behaviour(answer_after=0.2, fault="hangup", hangup_after=0.5),  # hangs up mid-message
    "208": Behaviour(answer_after=0.2, press="1", press_after=0.8),
}


PLAN = {
    "ENG-1": [("radio", "R1"), ("voice", "201")],
    "ENG-2": [("voice", "202")],
    "ENG-3": [("voice", "203")],
    "ENG-4": [("voice", "204"), ("voice", "205")],
    "ENG-5": [("voice", "207"), ("voice", "208")],
}
VOICE = {
    "bind_address": "127.0.0.1",
    "workers": 2,
    "ring_timeout": 3,
    "digit_timeout": 2,
    "repeat": 1,
    "speed": 260,
    "intro": "",
    "prompt": "Press 1 to accept.",
}


def settings(tmp_path, plan: dict[str, list[tuple[str, str]]] = PLAN) -> Settings:
    targets = _default_targets()
    targets[Priority.P2] = targets[Priority.P2].model_copy(update={"ack_deadline": 6.0})
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
            VOICE
            | {
                "uri_template": f"sip:{{address}}@127.0.0.1:{phone.port}",
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
            await gw.dispatch.dispatch(
                inc.reference, ["ENG-1", "ENG-2", "ENG-3", "ENG-4", "ENG-5"], actor="t"
            )

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
                    and s["ENG-5"] is DeliveryState.ACKNOWLEDGED
                    and s["ENG-2"] == "declined"
                )

            await until(settled, "ENG-1, 3, 4 and 5 acknowledged, ENG-2 declined", timeout=45)

            async def recorded() -> bool:  # every answered call's record, once the call is over
                async with gw.store.read() as tx:
                    ds = await tx.deliveries_for_incident(inc.id)
                    attempts = await tx.attempts_for([d.id for d in ds])
                return all(
                    "talk_seconds" in a.evidence for a in attempts if a.evidence.get("sip_status") == 200
                )

            await until(recorded, "the talk time of every answered call on its attempt", timeout=20)
            async with gw.store.read() as tx:
                deliveries = {d.recipient_id: d for d in await tx.deliveries_for_incident(inc.id)}
                attempts = {rid: await tx.attempts_for([d.id]) for rid, d in deliveries.items()}
                eng1 = await tx.get_resource("ENG-1")
                eng2 = await tx.get_resource("ENG-2")
                audit = await tx.audit_for_incident(inc.id)

    assert [(a.channel, a.address) for a in attempts["ENG-1"]] == [("radio", "R1"), ("voice", "201")]
    assert attempts["ENG-1"][1].state is DeliveryState.ACKNOWLEDGED
    accepted = attempts["ENG-1"][1].evidence
    call_201 = next(c for c in phone.calls if c.user == "201")
    assert (accepted["sip_call_id"], accepted["sip_status"]) == (call_201.call_id, 200)
    assert accepted["digits"] == "13"
    assert accepted["dtmf"] == "1" and accepted["answered_at"] and accepted["talk_seconds"] > 0
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
    silence = attempts["ENG-4"][0].evidence  # answered, no key: the record says so
    assert (silence["sip_call_id"], silence["sip_status"], silence["digits"]) == (machine.call_id, 200, "")
    assert silence["answered_at"] and silence["talk_seconds"] >= 2.0  # the message, then digit_timeout
    assert silence["message_complete"] is True and silence["hung_up_by"] == "callout"
    assert any(e["kind"] == "attempt.evidence" for e in audit)
    # A hang-up mid-message is the same: sent, its talk time recorded, the ack deadline moves on.
    assert [(a.address, a.state) for a in attempts["ENG-5"]] == [
        ("207", DeliveryState.SENT),
        ("208", DeliveryState.ACKNOWLEDGED),
    ]
    cut = attempts["ENG-5"][0].evidence
    assert (cut["digits"], cut["hung_up_by"], cut["message_complete"]) == ("", "callee", False)
    assert cut["talk_seconds"] > 0 and cut["sip_status"] == 200


async def test_a_worker_killed_mid_call_loses_no_callout_the_engine_calls_again(tmp_path):
    """kill -9 of the worker holding a ringing callout: the attempt fails temporarily, the engine
    calls again on a restarted or other worker, the crew presses 1; the pool is whole again."""
    phones = {"206": Behaviour(answer_after=1.5, press="1", press_after=0.5)}
    async with SipPhone(phones=phones) as phone, contextlib.AsyncExitStack() as stack:
        radio = mqtt("radio", {"broker": "mqtt://127.0.0.1:1", "reconnect_min": 5})
        phone_line = voice(
            "voice",
            VOICE
            | {
                "uri_template": f"sip:{{address}}@127.0.0.1:{phone.port}",
                "cache_dir": str(tmp_path / "speech"),
                "restart_delay": 0.2,
            },
        )
        assert isinstance(phone_line, VoiceChannel)
        gw = await stack.enter_async_context(
            Gateway(
                settings(tmp_path, {"ENG-6": [("voice", "206")]}),
                channels={"radio": radio, "voice": phone_line},
            )
        )
        await stack.enter_async_context(gw.running())
        await asyncio.wait_for(phone_line.wait_ready(), 20)
        inc = await gw.incidents.create(
            {"nature": "fire", "location": "Depot", "category": "fire", "impact": 1, "urgency": 2},
            source="desk",
            actor="t",
        )
        await gw.dispatch.dispatch(inc.reference, ["ENG-6"], actor="t")
        await until(lambda: any(c.user == "206" for c in phone.calls), "the callout ringing")
        victim = next(w for w in phone_line.workers if w.calls)
        pid = victim.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

        async def acknowledged() -> bool:
            async with gw.store.read() as tx:
                (d,) = await tx.deliveries_for_incident(inc.id)
            return d.state is DeliveryState.ACKNOWLEDGED

        await until(acknowledged, "the callout acknowledged after the worker was killed", timeout=30)
        await asyncio.wait_for(phone_line.wait_ready(), 20)
        async with gw.store.read() as tx:
            (d,) = await tx.deliveries_for_incident(inc.id)
            (attempt,) = await tx.attempts_for([d.id])
            audit = await tx.audit_for_incident(inc.id)
    assert victim.starts == 2 and victim.pid != pid  # the pool recovered
    assert [w.starts for w in phone_line.workers].count(1) == 1  # the other worker ran throughout
    assert attempt.tries == 1 and attempt.evidence["dtmf"] == "1"  # one failed try, then acknowledged
    failed = [e for e in audit if e["kind"] == "attempt.failed_temporary"]
    assert len(failed) == 1 and "died" in json.dumps(failed[0], default=str)
    calls = [c for c in phone.calls if c.user == "206"]
    assert len(calls) == 2 and calls[1].status == 200 and calls[1].digits_sent == "1"
