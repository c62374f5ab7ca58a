"""A bulk callout end to end: one request pages 200 MQTT radios of a simulated fleet on a private
mosquitto; every radio acks, every delivery is acknowledged, and a stand-down reaches them all."""

from __future__ import annotations

from pathlib import Path

from adapters.radio_mqtt.channel import RadioMqttChannel, build
from gateway.app import Gateway
from gateway.domain.states import DeliveryState, Purpose, UnitStatus
from gateway.services.callout import Selection
from simulators.radio_fleet import PrivateBroker, RadioFleet
from tests.support.engine import FIRE, make_settings
from tests.support.waiting import until

RADIOS = 200


async def test_one_callout_pages_a_whole_fleet_and_every_ack_is_recorded(tmp_path: Path) -> None:
    units = [
        {
            "id": f"U{i:03d}",
            "capabilities": ["fire"],
            "contact_plan": [{"channel": "radio", "address": f"R{i}"}],
        }
        for i in range(1, RADIOS + 1)
    ]
    async with PrivateBroker(persistence=False) as broker:
        ch = build("radio", {"broker": broker.url, "client_id": "callout-bulk", "reconnect_min": 0.1})
        assert isinstance(ch, RadioMqttChannel)
        settings = make_settings(
            tmp_path / "callout.db",
            channels=[{"name": "radio", "kind": "mqtt_radio", "options": {"broker": broker.url}}],
            resources=units,
            stakeholders=[],
        )
        async with (
            RadioFleet(broker=broker.url, count=RADIOS, ack_delay=0.0, walk_delay=None) as fleet,
            Gateway(settings, channels={"radio": ch}) as gw,
            gw.running(),
        ):
            inc = await gw.incidents.create(FIRE, source="desk", actor="test")
            result = await gw.callout.callout(inc.reference, Selection("capability", "fire"), actor="test")
            assert len(result.selected) == RADIOS and result.skipped == []

            async def deliveries() -> list[object]:
                async with gw.store.read() as tx:
                    return await tx.deliveries_for_incident(inc.id)

            async def all_acknowledged() -> bool:
                ds = await deliveries()
                return len(ds) == RADIOS and all(d.state is DeliveryState.ACKNOWLEDGED for d in ds)

            await until(all_acknowledged, "an acknowledgement from every radio", timeout=30)
            assert sum(len(fleet.radio(f"R{i}").received) for i in range(1, RADIOS + 1)) == RADIOS
            assert all(gw.core.directory.get(u["id"]).status is UnitStatus.DISPATCHED for u in units)

            await gw.stand_down.resolve(inc.reference, actor="test", note="all clear")

            async def stood_down() -> bool:
                ds = [d for d in await deliveries() if d.purpose is Purpose.STAND_DOWN]
                return len(ds) == RADIOS and all(d.state is not DeliveryState.PENDING for d in ds)

            await until(stood_down, "a stand-down to every radio", timeout=30)
