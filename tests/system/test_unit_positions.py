"""Unit positions from the field rank the recommendation: nearest fresh position first, stale
ones after, units without a position last.

Real parts only: a KISS TNC on a pseudo-terminal with APRS stations beaconing positions, a
private Mosquitto with the simulated radio fleet sending GPS fixes, and the field app posting
its phone's fix to the inbound API over HTTP, all wired to a real gateway. The incident gets its
coordinates from the gazetteer (`[[gazetteer.places]]`) by its location text."""

from __future__ import annotations

import math
import re
import time

from adapters.radio_kiss.channel import build as kiss
from adapters.radio_mqtt.channel import build as mqtt
from adapters.webhook.channel import build as webhook
from gateway.api.server import ApiServer
from gateway.app import Gateway
from gateway.settings import Settings
from simulators.field_app import FieldApp
from simulators.kiss_tnc import KissTnc, Station
from simulators.radio_fleet import PrivateBroker, RadioFleet
from tests.support.waiting import until

STATION = (51.5000, -0.1200)  # "Central Station" in the gazetteer
SECRET = "app-inbound-secret"


def north_of(km: float) -> tuple[float, float]:
    """A point `km` due north of the station (a degree of latitude is 111.195 km on the sphere)."""
    return STATION[0] + km / (6371.0088 * math.pi / 180), STATION[1]


def unit(uid: str, channel: str, address: str) -> dict[str, object]:
    return {"id": uid, "capabilities": ["fire"], "contact_plan": [{"channel": channel, "address": address}]}


def settings_for(tmp_path, broker: str) -> Settings:
    return Settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
        triage={"rules": [{"category": "fire", "classification": "incident", "capabilities": ["fire"]}]},
        positions={"max_age": 300, "audit_every": 600},
        gazetteer={
            "places": [
                {"name": "Central Station", "aliases": ["Central Stn"], "lat": STATION[0], "lon": STATION[1]},
                {"name": "Depot", "lat": 51.6, "lon": -0.2},
            ]
        },
        channels=[
            {"name": "radio", "kind": "mqtt_radio", "options": {"broker": broker}},
            {"name": "aprs", "kind": "kiss_radio", "options": {"callsign": "N0GW-1"}},
            {
                "name": "app",
                "kind": "webhook",
                "options": {"url": "http://127.0.0.1:9/{address}", "inbound_secret": SECRET},
            },
        ],
        resources=[
            unit("ENG-1", "radio", "R1"),  # fresh, 2.0 km (MQTT status with a fix)
            unit("ENG-2", "aprs", "N0CALL-7"),  # fresh, 1.4 km (APRS beacon, no timestamp)
            unit("ENG-3", "radio", "R2"),  # stale, 300 m (MQTT position fixed 15 min ago)
            unit("ENG-4", "aprs", "N0CALL-8"),  # stale, 600 m (APRS beacon stamped 20 min ago)
            unit("ENG-5", "app", "phone-5"),  # fresh, 3.0 km (the field app's GPS over HTTP)
            unit("ENG-6", "radio", "R3"),  # never reported a position
        ],
    )


async def test_the_nearest_fresh_unit_is_recommended_first_and_stale_ones_after(tmp_path):
    stations = [Station("N0CALL-7"), Station("N0CALL-8"), Station("N0XYZ-3")]
    async with (
        PrivateBroker() as broker,
        RadioFleet(broker=broker.url, count=3, walk_delay=None) as fleet,
        KissTnc(stations, pty=True) as tnc,
    ):
        radio = mqtt(
            "radio",
            {"broker": broker.url, "client_id": "callout-positions", "reconnect_min": 0.1},
        )
        aprs = kiss("aprs", {"callsign": "N0GW-1", "device": tnc.device, "silence_timeout": None})
        app_channel = webhook("app", {"url": "http://127.0.0.1:9/{address}", "inbound_secret": SECRET})
        channels = {"radio": radio, "aprs": aprs, "app": app_channel}
        settings = settings_for(tmp_path, broker.url)
        async with (
            Gateway(settings, channels=channels) as gw,
            gw.running(),
            ApiServer(gw, "127.0.0.1", 0) as server,
            FieldApp(callout=server.url, secret=SECRET) as app,
        ):
            await until(lambda: radio.health.state.value == "up", "MQTT channel up")
            await until(lambda: aprs.health.state.value == "up", "KISS channel up")
            now = time.time()
            fleet.send_status("R1", "available", (*north_of(2.0), now))
            fleet.send_position("R2", *north_of(0.3), fix_ts=now - 900)
            tnc.beacon("N0CALL-7", *north_of(5.0))  # first fix far away: audited
            tnc.beacon("N0CALL-7", *north_of(1.4), compressed=True)  # moved: kept, not audited
            tnc.beacon("N0CALL-8", *north_of(0.6), at=now - 1200)
            tnc.beacon("N0CALL-8", *north_of(0.6), at=now - 1200)  # the same packet again: dropped
            tnc.beacon("N0XYZ-3", *north_of(0.1))  # a station on the air that is none of ours
            status, answer = await app.send_position("app", "phone-5", *north_of(3.0), observed_at=now - 5)
            assert (status, answer) == (200, {"result": "position"})

            def located() -> bool:
                units = [gw.core.directory.get(f"ENG-{i}") for i in range(1, 6)]
                return all(u is not None and u.position is not None for u in units) and (
                    abs(gw.core.directory.get("ENG-2").position.lat - north_of(1.4)[0]) < 1e-4  # type: ignore[union-attr]
                )

            await until(located, "every unit's position applied", timeout=10)

            inc = await gw.incidents.create(
                {
                    "nature": "smoke",
                    "location": "platform 2, Central Stn",
                    "category": "fire",
                    "impact": 1,
                    "urgency": 1,
                },
                source="desk",
                actor="t",
            )
            assert (inc.lat, inc.lon) == STATION  # from the gazetteer, by its alias
            recs = gw.core.directory.recommend(
                capabilities=["fire"],
                priority=inc.priority,  # type: ignore[arg-type]
                count=6,
                scene=gw.incidents.scene(inc.lat, inc.lon),
            )
            assert [r.resource_id for r in recs] == ["ENG-2", "ENG-1", "ENG-5", "ENG-3", "ENG-4", "ENG-6"]
            scores = [r.score for r in recs]
            assert scores == sorted(scores, reverse=True)
            text = {r.resource_id: r.rationale for r in recs}
            eng2_why = r"^ENG-2: available, has fire; 1.4 km, position \d+ s old; 1 endpoint"
            assert re.search(eng2_why, text["ENG-2"]), text["ENG-2"]
            assert re.search(r"; 300 m, position 15 min old, stale; ", text["ENG-3"]), text["ENG-3"]
            assert re.search(r"; [56]\d0 m, position 2[01] min old, stale; ", text["ENG-4"]), text["ENG-4"]
            assert "no position" in text["ENG-6"]
            assert inc.recommendation[0]["resource_id"] == "ENG-2"  # what triage stored

            # The store holds the last fix; the audit trail kept one fix per unit.
            async with gw.store.read() as tx:
                audited = await tx.audit_of_kinds(["unit.position"])
                eng2 = await tx.get_resource("ENG-2")
            per_unit = sorted(a["data"]["resource"] for a in audited)
            assert per_unit == ["ENG-1", "ENG-2", "ENG-3", "ENG-4", "ENG-5"]
            first = next(a for a in audited if a["data"]["resource"] == "ENG-2")
            assert abs(first["data"]["lat"] - north_of(5.0)[0]) < 1e-3  # the first fix, not the second
            assert eng2.position is not None and abs(eng2.position.lat - north_of(1.4)[0]) < 1e-4
            assert eng2.position.source == "aprs"
            eng4 = gw.core.directory.get("ENG-4")
            assert eng4 is not None and eng4.position is not None
            assert abs(eng4.position.observed_at - (now - 1200)) < 61  # the APRS DDHHMMz timestamp
            assert aprs.stats.garbled == 0  # type: ignore[attr-defined]
