"""Radio offline on the MQTT gateway: the dispatch falls back to the serial (KISS/APRS) radio.

A private Mosquitto with the simulated radio fleet, and a KISS TNC on a real pseudo-terminal with
a simulated station, both wired to a real gateway; no scripted parts."""

from __future__ import annotations

import asyncio

from adapters.radio_kiss.channel import build as kiss
from adapters.radio_mqtt.channel import build as mqtt
from gateway.app import Gateway
from gateway.domain.states import DeliveryState, IncidentState
from gateway.settings import Settings
from simulators.kiss_tnc import KissTnc, Station
from simulators.radio_fleet import PrivateBroker, RadioFleet
from tests.support.waiting import until


async def test_an_offline_mqtt_radio_falls_back_to_the_aprs_radio_which_acknowledges(tmp_path):
    settings = Settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
        delivery={"max_retries": 1, "retry_base": 0.2, "retry_cap": 0.5, "retry_jitter": 0.0},
        channels=[
            {"name": "radio", "kind": "mqtt_radio", "options": {"broker": "mqtt://127.0.0.1:1"}},
            {"name": "aprs", "kind": "kiss_radio", "options": {"callsign": "N0CALL-1"}},
        ],
        resources=[
            {
                "id": "ENG-1",
                "capabilities": ["fire"],
                "contact_plan": [
                    {"channel": "radio", "address": "R1"},
                    {"channel": "aprs", "address": "N0CALL-7"},
                ],
            }
        ],
    )
    station = Station("N0CALL-7", reply="ACK", ack_delay=0.05, reply_delay=0.2)
    async with (
        PrivateBroker() as broker,
        RadioFleet(broker=broker.url, count=3, walk_delay=None) as fleet,
        KissTnc([station], pty=True) as tnc,
    ):
        radio = mqtt(
            "radio",
            {
                "broker": broker.url,
                "client_id": "callout-fallback-test",
                "reconnect_min": 0.1,
                "reconnect_max": 0.4,
            },
        )
        aprs = kiss(
            "aprs",
            {
                "callsign": "N0CALL-1",
                "device": tnc.device,
                "retry_intervals": [0.5, 0.5],
                "silence_timeout": None,
            },
        )
        async with Gateway(settings, channels={"radio": radio, "aprs": aprs}) as gw, gw.running():
            await until(lambda: radio.presence("R1") is True, "R1 online")  # type: ignore[attr-defined]
            await fleet.set_online("R1", False)
            await until(lambda: radio.presence("R1") is False, "R1 offline")  # type: ignore[attr-defined]
            inc = await gw.incidents.create(
                {"nature": "fire", "location": "Depot", "category": "fire", "impact": 1, "urgency": 2},
                source="desk",
                actor="t",
            )
            await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="t")

            async def acknowledged() -> bool:
                async with gw.store.read() as tx:
                    (d,) = await tx.deliveries_for_incident(inc.id)
                return d.state is DeliveryState.ACKNOWLEDGED

            await until(acknowledged, "acknowledged over APRS", timeout=15)
            async with gw.store.read() as tx:
                (d,) = await tx.deliveries_for_incident(inc.id)
                attempts = await tx.attempts_for([d.id])
                state = (await tx.get_incident(inc.id)).state
            assert [(a.channel, a.state) for a in attempts] == [
                ("radio", DeliveryState.FAILED_PERMANENT),
                ("aprs", DeliveryState.ACKNOWLEDGED),
            ]
            assert "offline" in attempts[0].evidence["error"]
            assert attempts[1].delivered_at is not None  # the station's APRS ack came first
            assert state is IncidentState.ACKNOWLEDGED
            assert fleet.radio("R1").received == []
            await asyncio.sleep(0)
